"""Generic CSV / JSONL manifest reader for user-supplied labelled audio or text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from emorl.data._common import CorpusBuilder, dropped_reason, read_lines
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import FOUR_CLASS, LabelMode

NAME = "manifest"
KNOWN_FIELDS: tuple[str, ...] = ("id", "audio", "text", "label", "speaker", "dialogue")


def read_manifest(
    path: str | Path, *, labels: LabelMode = "four", label_set: Sequence[str] | None = None
) -> Corpus:
    """Read a ``.csv`` (header row) or ``.jsonl`` (one object a line) manifest.

    Fields: ``label`` (required), ``audio`` and/or ``text`` (at least one per row),
    optional ``speaker``, ``dialogue``, ``id`` (default ``{manifest stem}_{row index}``,
    0-based); other fields go to ``extra``. Relative audio paths are taken from the
    manifest's folder, absolute ones kept; files are not checked. Labels are stripped and
    lowercased. With ``label_set`` an unknown label raises :class:`CorpusFormatError` at
    ``file:line``. In four-class mode labels outside ``FOUR_CLASS`` are skipped and counted
    (``"label 'x' not in four-class set"``) and ``corpus.labels`` is ``FOUR_CLASS``; in
    full mode every label is kept and ``corpus.labels`` is ``label_set`` if given, else
    the sorted labels seen. Utterances carry ``corpus="manifest"``.
    """
    path = Path(path)
    builder = CorpusBuilder(NAME, labels)
    allowed = None if label_set is None else tuple(_norm(label) for label in label_set)
    rows = manifest_rows(path, _labelled_header_problem)
    seen: set[str] = set()
    count = 0
    for index, (lineno, row) in enumerate(rows):
        count += 1
        raw_label = row.get("label")
        if raw_label is None or (isinstance(raw_label, str) and not raw_label.strip()):
            raise CorpusFormatError(path, lineno, "missing field 'label'")
        label = _norm(str(raw_label))
        if allowed is not None and label not in allowed:
            raise CorpusFormatError(
                path, lineno, f"unknown label {label!r}; expected one of {', '.join(allowed)}"
            )
        audio, text = str_field(row, "audio", path, lineno), str_field(row, "text", path, lineno)
        if audio is None and text is None:
            raise CorpusFormatError(path, lineno, "a row needs 'audio' or 'text'")
        if builder.mode == "four" and label not in FOUR_CLASS:
            builder.skip(dropped_reason(label))
            continue
        seen.add(label)
        audio_path = None
        if audio is not None:
            audio_path = Path(audio).expanduser()
            if not audio_path.is_absolute():
                audio_path = path.parent / audio_path
        utterance = Utterance(
            id=str_field(row, "id", path, lineno) or f"{path.stem}_{index}",
            label=label,
            text=text,
            audio_path=audio_path,
            speaker=str_field(row, "speaker", path, lineno),
            dialogue=str_field(row, "dialogue", path, lineno),
            corpus=NAME,
            extra={k: v for k, v in row.items() if k not in KNOWN_FIELDS},
        )
        builder.add(utterance, path, lineno)
    if count == 0:
        raise CorpusFormatError(path, None, "no rows")
    if builder.mode == "four":
        return builder.build(FOUR_CLASS)
    return builder.build(allowed if allowed is not None else tuple(sorted(seen)))


def _norm(label: str) -> str:
    return label.strip().lower()


def str_field(row: Mapping[str, Any], key: str, path: Path, line: int) -> str | None:
    """A text field stripped; missing, null or empty -> ``None``."""
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CorpusFormatError(path, line, f"field {key!r} must be a string, got {value!r}")
    return str(value).strip() or None


def _labelled_header_problem(header: list[str]) -> str | None:
    if not header:
        return None  # an empty file: "no rows" is reported by the caller
    if "label" not in header:
        return "missing column 'label'"
    if "audio" not in header and "text" not in header:
        return "missing column: needs 'audio' or 'text'"
    return None


def manifest_rows(
    path: Path, header_problem: Callable[[list[str]], str | None]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, fields)`` of a ``.csv`` (header row, lowercased) or ``.jsonl`` manifest.

    Blank rows are skipped. ``header_problem`` judges the CSV header: a message it returns
    is raised as :class:`CorpusFormatError` at line 1. Malformed CSV or JSON, invalid UTF-8
    and rows longer than the header raise it at their line.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path, header_problem)
    if suffix == ".jsonl":
        return jsonl_rows(path)
    raise CorpusFormatError(path, None, "manifest must be a .csv or .jsonl file")


def _csv_rows(
    path: Path, header_problem: Callable[[list[str]], str | None]
) -> Iterator[tuple[int, dict[str, Any]]]:
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusFormatError(path, line, f"not valid UTF-8 ({err.reason})") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    problem = header_problem(header)
    if problem is not None:
        raise CorpusFormatError(path, 1, problem)
    while True:
        lineno = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise CorpusFormatError(path, lineno, f"bad CSV: {err}") from None
        if not any(field.strip() for field in fields):
            continue
        if len(fields) > len(header):
            raise CorpusFormatError(path, lineno, f"{len(fields)} fields, header has {len(header)}")
        yield lineno, dict(zip(header, fields, strict=False))


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, object)`` of a JSON-lines file; blank lines skipped, errors name the line."""
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusFormatError(path, lineno, f"malformed JSON: {err.msg}") from None
        if not isinstance(row, dict):
            raise CorpusFormatError(path, lineno, "expected a JSON object")
        yield lineno, row
