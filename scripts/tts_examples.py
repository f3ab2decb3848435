"""IEmoNet on synthetic voices outside its training corpus: the issue-15 illustration.

Speaks sentences with espeak-ng (its default voice, and the simulator's callers with
neutral prosody) and with the Piper voice, then recognises each clip as ``emorl demo``
does: Whisper transcript, the speaker adapted on the utterance itself. Prints the TER, SER
and fused posteriors (``--json`` for one JSON object). An illustration, not a test set.

    python scripts/tts_examples.py [--model DIR] [--voices 0 3 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

SENTENCES = (
    "That is wonderful news. Thank you so much for fixing it.",
    "I have been waiting for 40 minutes and nobody has helped me",
)


def espeak_default(text: str) -> object:
    """espeak-ng's default voice and prosody, as ``espeak-ng -w out.wav TEXT`` speaks it."""
    from emorl.audio import load_audio

    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SystemExit("espeak-ng not found (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        subprocess.run([binary, "-w", str(path), text], check=True)
        return load_audio(path).samples.copy()


def recognise(model, samples) -> dict:
    model.ser.adapt_speaker("caller", [samples], sampling_rate=16000)
    result = model.predict(samples, sampling_rate=16000, speaker="caller", check_speech=False)
    return {
        "transcript": result.transcript,
        **{k: {a: round(b, 3) for a, b in getattr(result, k).items()} for k in ("ter", "ser")},
        "fused": {a: round(b, 3) for a, b in result.fused.items()},
        "label": result.label,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="IEmoNet folder")
    parser.add_argument("--voices", type=int, nargs="*", default=[0, 3, 10])
    parser.add_argument("--no-piper", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from emorl.envs.tts import SpeechSynthesiser
    from emorl.recognizers.iemonet import IEmoNet

    model = IEmoNet.from_pretrained(args.model)
    espeak = SpeechSynthesiser()
    piper = None
    if not args.no_piper:
        from emorl.envs.tts import PiperSynthesiser

        piper = PiperSynthesiser()
    rows = []
    for text in SENTENCES:
        clips = {"espeak-ng default": espeak_default(text)}
        for voice in args.voices:
            name, *_ = espeak.settings("neutral", voice)
            clips[f"espeak-ng caller {voice} ({name}, neutral prosody)"] = espeak.synthesise(
                text, "neutral", voice
            )
        if piper is not None:
            clips["Piper en_US-joe-medium"] = piper.synthesise(text)
        for voice, samples in clips.items():
            rows.append({"text": text, "voice": voice, **recognise(model, samples)})
    if args.json:
        print(json.dumps({"model": str(args.model or "shipped"), "examples": rows}, indent=1))
        return

    def fmt(d: dict) -> str:
        return " ".join(f"{k[:3]} {v:.2f}" for k, v in d.items())

    for row in rows:
        print(f"{row['text'][:28]}... | {row['voice']}")
        print(f"   TER {fmt(row['ter'])} | SER {fmt(row['ser'])} | fused {fmt(row['fused'])}")


if __name__ == "__main__":
    main()
