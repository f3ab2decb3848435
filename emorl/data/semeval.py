"""SemEval-2017 Task 4A (tweet sentiment) reader."""

from __future__ import annotations

from pathlib import Path

from emorl.data._common import CorpusBuilder, is_hidden, read_lines
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance
from emorl.emotions import LabelMode

NAME = "semeval"
DUPLICATE = "duplicate tweet id"
EMPTY_TEXT = "empty text"
NOT_AVAILABLE = "text 'Not Available'"


def read_semeval(path: str | Path, *, labels: LabelMode = "four") -> Corpus:
    """Read SemEval-2017 4A tweets from a file or from every ``*.tsv``/``*.txt`` in a folder.

    Two formats are detected per file: a header ``id<TAB>label<TAB>text[<TAB>more...]``
    (the shared ``train.tsv``; extra columns such as ``source`` go to ``extra``), or the
    official header-less ``id<TAB>label<TAB>text`` where the text is everything after the
    second tab (inner tabs kept, trailing tabs and whitespace stripped). Labels are
    case-insensitive positive/neutral/negative and are the same in both label modes.

    Lines are decoded as strict UTF-8 (a BOM is dropped); bad bytes, unknown labels and
    short lines raise :class:`CorpusFormatError` at ``file:line``, as does a file with no
    rows. Repeated tweet ids keep the first and count the rest under
    ``"duplicate tweet id"``; empty texts and deleted tweets (``Not Available``) are
    counted under ``"empty text"`` and ``"text 'Not Available'"``.
    """
    path = Path(path)
    builder = CorpusBuilder(NAME, labels)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in (".tsv", ".txt") and not is_hidden(p)
        )
        if not files:
            raise CorpusFormatError(path, None, "no *.tsv or *.txt files in this folder")
    else:
        files = [path]
    for file in files:
        _read_file(file, builder)
    return builder.build()


def _read_file(path: Path, builder: CorpusBuilder) -> None:
    lines = read_lines(path)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise CorpusFormatError(path, None, "no rows")
    head = [field.strip().lower() for field in lines[first].split("\t")]
    after_text: list[str] = []  # names of the columns that follow the text
    start = first
    if head[:2] == ["id", "label"]:
        if len(head) < 3 or head[2] != "text":
            raise CorpusFormatError(path, first + 1, "header must begin id, label, text")
        after_text = head[3:]
        start = first + 1
    rows = 0
    for index in range(start, len(lines)):
        line, lineno = lines[index], index + 1
        if not line.strip():
            continue
        rows += 1
        fields = line.split("\t")
        if len(fields) < 3 + len(after_text):
            expected = "\t".join(["id", "label", "text", *after_text]).replace("\t", "<TAB>")
            raise CorpusFormatError(path, lineno, f"expected {expected}, got {line[:60]!r}")
        tweet_id, raw_label = fields[0].strip(), fields[1].strip().lower()
        stop = len(fields) - len(after_text)
        text = "\t".join(fields[2:stop]).strip()
        extra = {name: value.strip() for name, value in zip(after_text, fields[stop:], strict=True)}
        if not tweet_id:
            raise CorpusFormatError(path, lineno, "empty tweet id")
        label = builder.map_label(raw_label, path, lineno)
        if builder.has_id(tweet_id):
            builder.skip(DUPLICATE)
            continue
        if not text:
            builder.skip(EMPTY_TEXT)
            continue
        if text == "Not Available":
            builder.skip(NOT_AVAILABLE)
            continue
        assert label is not None  # SemEval keeps every label in both modes
        builder.add(
            Utterance(id=tweet_id, label=label, text=text, corpus=NAME, extra=extra),
            path,
            lineno,
        )
    if rows == 0:
        raise CorpusFormatError(path, None, "no rows")
