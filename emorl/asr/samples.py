"""Read-speech samples with reference transcripts in the CMU Sphinx test-data layout.

The layout (pocketsphinx ``test/data``) that ``asr_samples/librivox_cards`` holds::

    librivox/<id>.wav + <id>.txt     LibriVox utterances, one reference line each
    cards/<id>.wav + cards.transcription   "<s> ten of clubs </s> (001)" lines
    goforward.raw                    16 kHz 16-bit headerless: "go forward ten meters"

:func:`sample_items` finds them under a root folder; :func:`write_sample_manifest` writes the
speech manifest ``emorl evaluate asr --manifest`` reads::

    python -m emorl.asr.samples ../shared/data/asr_samples /tmp/asr_samples.jsonl
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from emorl.artifacts import atomic_write
from emorl.asr.manifest import SpeechItem

__all__ = ["GOFORWARD_TEXT", "read_sphinx_transcription", "sample_items", "write_sample_manifest"]

#: What ``goforward.raw`` says (its reference ships only in the data's documentation).
GOFORWARD_TEXT = "go forward ten meters"
_LINE = re.compile(r"^\s*(?:<s>)?(?P<text>.*?)(?:</s>)?\s*\((?P<id>[^()]+)\)\s*$")


def read_sphinx_transcription(path: str | Path) -> dict[str, str]:
    """``{utterance id: text}`` from a Sphinx ``.transcription`` file."""
    path = Path(path)
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected '<s> text </s> (id)'")
        found[match["id"].strip()] = " ".join(match["text"].split())
    return found


def sample_items(root: str | Path) -> list[SpeechItem]:
    """Every clip with a reference under ``root`` (searched recursively), sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"samples folder not found: {root}")
    items: list[SpeechItem] = []
    for text_file in sorted(root.rglob("*.txt")):
        audio = text_file.with_suffix(".wav")
        if audio.is_file():
            text = " ".join(text_file.read_text(encoding="utf-8").split())
            items.append(SpeechItem(f"{audio.parent.name}_{audio.stem}", audio.resolve(), text))
    for listing in sorted(root.rglob("*.transcription")):
        for utt_id, text in read_sphinx_transcription(listing).items():
            audio = listing.parent / f"{utt_id}.wav"
            if audio.is_file():
                items.append(SpeechItem(f"{listing.parent.name}_{utt_id}", audio.resolve(), text))
    for raw in sorted(root.rglob("goforward.raw")):
        items.append(SpeechItem("goforward", raw.resolve(), GOFORWARD_TEXT))
    if not items:
        raise FileNotFoundError(f"no clips with reference transcripts under {root}")
    return sorted(items, key=lambda item: item.id)


def write_sample_manifest(root: str | Path, out: str | Path) -> Path:
    """Write :func:`sample_items` of ``root`` as a ``.jsonl`` speech manifest (absolute paths)."""
    rows = [
        json.dumps({"id": i.id, "audio": str(i.audio_path), "text": i.text})
        for i in sample_items(root)
    ]
    text = "".join(row + "\n" for row in rows)
    return atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m emorl.asr.samples SAMPLES_DIR OUT.jsonl")
    print(write_sample_manifest(sys.argv[1], sys.argv[2]))
