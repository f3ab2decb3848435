"""Talk to the emotion-aware support agent through the microphone (or stream a file).

    python examples/live_mic_demo.py                      # microphone, rich live view
    python examples/live_mic_demo.py --input-file talk.wav --fast --log turns.jsonl
    python examples/live_mic_demo.py --speak              # the agent answers aloud

Every option of ``emorl demo`` works here (``--help``). The script assembles the same
pieces as the command: options -> source -> session -> live display.
"""

from __future__ import annotations

import sys

from emorl.demo.app import prepare_threads

prepare_threads()  # before torch and CTranslate2 load: they share the cores turn by turn

from emorl.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
