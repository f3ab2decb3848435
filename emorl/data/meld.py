"""MELD (Friends dialogues, ``*_sent_emo.csv``) reader."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

from emorl.data._common import CorpusBuilder, is_hidden
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import LabelMode

NAME = "meld"
SUFFIX = "_sent_emo.csv"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "Utterance",
    "Speaker",
    "Emotion",
    "Sentiment",
    "Dialogue_ID",
    "Utterance_ID",
)
EMPTY_TEXT = "empty text"


def read_meld(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """Read one MELD ``<split>_sent_emo.csv`` or every ``*_sent_emo.csv`` in a folder (sorted).

    Ids are ``{split}_dia{Dialogue_ID}_utt{Utterance_ID}``, dialogues
    ``{split}_dia{Dialogue_ID}``, where ``split`` is the file name before ``_sent_emo.csv``
    (the whole stem for another name). ``extra`` holds ``sentiment`` and ``split``. Text is
    kept as written, surrounding whitespace stripped; empty texts are counted under
    ``"empty text"``.

    A file is decoded as strict UTF-8 (BOM dropped); if that fails the whole file is decoded
    as cp1252 and a ``UserWarning`` naming the file is emitted. Missing columns, unknown
    emotions and non-integer ids raise :class:`CorpusFormatError` at ``file:line``.
    """
    path = Path(path)
    builder = CorpusBuilder(NAME, labels)
    if path.is_dir():
        files = sorted(p for p in path.glob(f"*{SUFFIX}") if p.is_file() and not is_hidden(p))
        if not files:
            raise CorpusFormatError(path, None, f"no *{SUFFIX} files in this folder")
    else:
        files = [path]
    for file in files:
        _read_file(file, builder)
    return builder.build()


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as err:
        raise CorpusFormatError(path, None, f"neither UTF-8 nor cp1252: {err}") from None
    warnings.warn(f"{path}: not valid UTF-8, decoded as cp1252", UserWarning, stacklevel=3)
    return text


def _read_file(path: Path, builder: CorpusBuilder) -> None:
    split = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    header = next(reader, None)
    if header is None:
        raise CorpusFormatError(path, None, "no rows")
    columns = {name.strip(): i for i, name in enumerate(header)}
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise CorpusFormatError(path, 1, f"missing column {name!r}")
    col = {name: columns[name] for name in REQUIRED_COLUMNS}
    rows = 0
    while True:
        lineno = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise CorpusFormatError(path, lineno, f"bad CSV: {err}") from None
        if not any(field.strip() for field in row):
            continue
        rows += 1
        if len(row) < len(header):
            raise CorpusFormatError(path, lineno, f"{len(row)} fields, header has {len(header)}")
        dia = _int(row[col["Dialogue_ID"]], path, lineno)
        utt = _int(row[col["Utterance_ID"]], path, lineno)
        label = builder.map_label(row[col["Emotion"]].strip().lower(), path, lineno)
        if label is None:
            continue
        text = row[col["Utterance"]].strip()
        if not text:
            builder.skip(EMPTY_TEXT)
            continue
        dialogue = f"{split}_dia{dia}"
        utterance = Utterance(
            id=f"{dialogue}_utt{utt}",
            label=label,
            text=text,
            speaker=row[col["Speaker"]].strip() or None,
            dialogue=dialogue,
            corpus=NAME,
            extra={"sentiment": row[col["Sentiment"]].strip().lower(), "split": split},
        )
        builder.add(utterance, path, lineno)
    if rows == 0:
        raise CorpusFormatError(path, None, "no rows")


def _int(value: str, path: Path, line: int) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise CorpusFormatError(path, line, f"expected an integer id, got {value!r}") from None
