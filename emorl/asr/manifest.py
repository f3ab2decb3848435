"""Speech manifests for recognition: read ``audio`` + reference ``text``, write transcripts.

The format is the generic manifest of :func:`emorl.data.manifest.read_manifest` (``.csv``
with a header row, or ``.jsonl`` with one object a line; audio paths relative to the
manifest's folder, absolute ones kept), except that ``label`` is not needed: ``audio`` is
required, ``text`` (the reference transcript) is needed for scoring, ``id`` defaults to
``{manifest stem}_{row}`` (0-based). Other fields are kept in ``extra``. Malformed rows
raise :class:`emorl.data.CorpusFormatError` naming the file, line and field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emorl.artifacts import atomic_write
from emorl.data._common import read_lines
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
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix == ".jsonl":
        rows = _jsonl_rows(path)
    else:
        raise CorpusFormatError(path, None, "manifest must be a .csv or .jsonl file")
    items: list[SpeechItem] = []
    seen: set[str] = set()
    for index, (line, row) in enumerate(rows):
        audio = _text_field(row, "audio", path, line)
        if audio is None:
            raise CorpusFormatError(path, line, "missing field 'audio'")
        text = _text_field(row, "text", path, line)
        if require_text and text is None:
            raise CorpusFormatError(path, line, "missing field 'text' (the reference transcript)")
        item_id = _text_field(row, "id", path, line) or f"{path.stem}_{index}"
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


def _text_field(row: Mapping[str, Any], key: str, path: Path, line: int) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CorpusFormatError(path, line, f"field {key!r} must be a string, got {value!r}")
    return str(value).strip() or None


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    content = "".join(line + "\n" for line in read_lines(path))
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if "audio" not in header:
        raise CorpusFormatError(path, 1, "missing column 'audio'")
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise CorpusFormatError(path, line, f"bad CSV: {err}") from None
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header):
            raise CorpusFormatError(path, line, f"{len(fields)} fields, header has {len(header)}")
        yield line, dict(zip(header, fields, strict=False))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, content in enumerate(read_lines(path), start=1):
        if not content.strip():
            continue
        try:
            row = json.loads(content)
        except json.JSONDecodeError as err:
            raise CorpusFormatError(path, line, f"malformed JSON: {err.msg}") from None
        if not isinstance(row, dict):
            raise CorpusFormatError(path, line, "expected a JSON object")
        yield line, row
