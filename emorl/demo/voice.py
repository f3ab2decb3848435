"""The agent's voice: espeak-ng synthesis played with ``sounddevice``, capture muted meanwhile."""

from __future__ import annotations

import threading
import time
from typing import Any

from emorl.demo.audio_source import BlockQueue

#: Capture stays muted this long after playback ends (room echo, output latency).
ECHO_TAIL_SECONDS = 0.3


class AgentVoice:
    """Speaks the agent's replies in the background; mutes ``sink`` while it does.

    ``mute`` is off for sources that cannot hear the loudspeaker (a file). Without an
    output device the first reply reports why and the voice falls silent.
    """

    def __init__(self, sink: BlockQueue | None, *, mute: bool, voice: int = 2) -> None:
        from emorl.envs.tts import SpeechSynthesiser

        self.tts = SpeechSynthesiser()
        self.sink, self.mute, self.voice = sink, mute, voice
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def say(self, text: str) -> None:
        """Synthesise and play ``text`` (waits for the previous reply to finish)."""
        if self.error is not None:
            return
        self.wait()
        samples = self.tts.synthesise(text, "neutral", self.voice)
        if self.mute and self.sink is not None:
            self.sink.muted = True
        self._thread = threading.Thread(target=self._play, args=(samples,), daemon=True)
        self._thread.start()

    def _play(self, samples: Any) -> None:
        try:
            import sounddevice as sd

            sd.play(samples, 16_000, blocking=True)
        except (OSError, ImportError, Exception) as err:  # PortAudio errors are plain Exceptions
            self.error = f"--speak: cannot play audio ({err}); replies are shown as text only"
        finally:
            if self.mute and self.sink is not None:
                time.sleep(ECHO_TAIL_SECONDS)
                self.sink.muted = False

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
