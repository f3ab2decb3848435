"""Speech manifests for recognition: read ``audio`` + reference ``text``, write transcripts.

The format is the generic manifest of :func:`emorl.data.manifest.read_manifest` (``.csv``
with a header row, or ``.jsonl`` with one object a line; audio paths relative to the
manifest's folder, absolute ones kept), except that ``label`` is not needed: ``audio`` is
required, ``text`` (the reference transcript) is needed for scoring, ``id`` defaults to
``{manifest stem}_{row}`` (0-based). Other fields are kept in ``extra``. Malformed rows
raise :class:`emorl.data.CorpusFormatError` naming the file, line and field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emorl.artifacts import atomic_write
from emorl.data.manifest import manifest_rows, str_field
from emorl.data.utterance import Corpus, CorpusFormatError

__all__ = ["SpeechItem", "read_speech_manifest", "write_corpus_manifest"]


@dataclass(frozen=True)
class SpeechItem:
    """One clip to recognise and, when known, what was said."""

    id: str
    audio_path: Path
    text: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def read_speech_manifest(path: str | Path, *, require_text: bool = False) -> list[SpeechItem]:
    """The rows of a ``.csv`` or ``.jsonl`` speech manifest (files are not opened here)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    rows = manifest_rows(path, _speech_header_problem)
    items: list[SpeechItem] = []
    seen: set[str] = set()
    for index, (line, row) in enumerate(rows):
        audio = str_field(row, "audio", path, line)
        if audio is None:
            raise CorpusFormatError(path, line, "missing field 'audio'")
        text = str_field(row, "text", path, line)
        if require_text and text is None:
            raise CorpusFormatError(path, line, "missing field 'text' (the reference transcript)")
        item_id = str_field(row, "id", path, line) or f"{path.stem}_{index}"
        if item_id in seen:
            raise CorpusFormatError(path, line, f"duplicate id {item_id!r}")
        seen.add(item_id)
        audio_path = Path(audio).expanduser()
        if not audio_path.is_absolute():
            audio_path = path.parent / audio_path
        extra = {k: v for k, v in row.items() if k not in ("id", "audio", "text")}
        items.append(SpeechItem(item_id, audio_path, text, extra))
    if not items:
        raise CorpusFormatError(path, None, "no rows")
    return items


def write_corpus_manifest(corpus: Corpus, path: str | Path) -> Path:
    """Write ``corpus`` as a ``.jsonl`` manifest for :func:`emorl.data.manifest.read_manifest`.

    Fields: ``id``, ``audio`` (absolute), ``text``, ``label``, ``speaker``, ``dialogue``, then
    the utterance's ``extra`` fields (e.g. ``reference_text`` of a transcribed corpus).
    """
    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise ValueError(f"{path}: the transcript manifest is written as .jsonl")
    lines = []
    for u in corpus.utterances:
        row: dict[str, Any] = {"id": u.id, "label": u.label, "text": u.text}
        if u.audio_path is not None:
            row["audio"] = str(Path(u.audio_path).resolve())
        if u.speaker is not None:
            row["speaker"] = u.speaker
        if u.dialogue is not None:
            row["dialogue"] = u.dialogue
        row.update({k: v for k, v in u.extra.items() if k not in row})
        lines.append(json.dumps(row, ensure_ascii=False))
    text = "".join(line + "\n" for line in lines)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _speech_header_problem(header: list[str]) -> str | None:
    return None if "audio" in header else "missing column 'audio'"
