"""The live dialogue demo: microphone or file -> utterances -> IEmoNet -> reward -> agent.

* :mod:`emorl.demo.audio_source`: microphone (``sounddevice``) and file sources that
  deliver 16 kHz mono blocks through one callback signature;
* :mod:`emorl.demo.segmenter`: streaming Silero voice-activity detection and utterance
  endpointing;
* :mod:`emorl.demo.dialogue`: the dialogue state the agent observes, in the
  ``EmoDialogue-v1`` observation layout;
* :mod:`emorl.demo.agents`: the scripted support agent or a Stable-Baselines3 policy;
* :mod:`emorl.demo.session`: one turn per utterance (recognise, reward, act) and the loop;
* :mod:`emorl.demo.display`, :mod:`emorl.demo.log`, :mod:`emorl.demo.voice`: the rich live
  view, the JSONL turn log and the agent's espeak-ng voice.

Importing this package loads no model and never imports ``sounddevice``.
"""

from __future__ import annotations
