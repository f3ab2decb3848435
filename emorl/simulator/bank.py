"""The utterance bank: real dialogue lines indexed by emotion and dialogue act.

A bank is one or more JSON-lines files, one utterance a line::

    {"text": "I can't believe this!", "emotion": "angry", "act": "inform",
     "source": "dailydialog", "id": "train_12_3"}

``emotion`` is one of the four classes, ``act`` one of DailyDialog's four acts
(``inform``, ``question``, ``directive``, ``commissive``). The shipped bank
(``emorl/envs/bank/``) is built from DailyDialog and MELD by :func:`build_bank`;
point :class:`UtteranceBank` at your own files to use other language.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from emorl.data.manifest import jsonl_rows
from emorl.data.utterance import CorpusFormatError
from emorl.emotions import FOUR_CLASS

BANK_ACTS: tuple[str, ...] = ("inform", "question", "directive", "commissive")
DEFAULT_BANK_DIR = Path(__file__).resolve().parents[1] / "envs" / "bank"
REQUIRED_FIELDS = ("text", "emotion", "act")


class BankFormatError(CorpusFormatError):
    """A bank file is malformed; the message names the file, line and field."""


class UtteranceBank:
    """Utterances grouped by ``(emotion, act)``, sampled with a caller's generator.

    ``per_group`` keeps the first so many lines of each group (all when ``None``): fewer
    distinct replies let a recognizer cache keyed by text serve most turns.
    """

    def __init__(self, entries: Iterable[dict[str, str]], per_group: int | None = None) -> None:
        if per_group is not None and per_group < 1:
            raise ValueError(f"per_group must be at least 1, got {per_group}")
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for entry in entries:
            group = groups[(entry["emotion"], entry["act"])]
            if per_group is None or len(group) < per_group:
                group.append(entry["text"])
        self._groups = {key: tuple(texts) for key, texts in groups.items()}
        self._by_emotion = {
            e: tuple(
                t for (emo, _), texts in sorted(self._groups.items()) if emo == e for t in texts
            )
            for e in FOUR_CLASS
        }
        empty = [e for e, texts in self._by_emotion.items() if not texts]
        if empty:
            raise ValueError(f"utterance bank has no utterance for emotion(s) {empty}")

    @classmethod
    def load(
        cls, paths: str | Path | Sequence[str | Path] | None = None, per_group: int | None = 40
    ) -> UtteranceBank:
        """Read bank files: a file, a folder of ``*.jsonl``, or several (default: shipped)."""
        if paths is None:
            paths = [DEFAULT_BANK_DIR]
        elif isinstance(paths, (str, Path)):
            paths = [paths]
        files: list[Path] = []
        for path in map(Path, paths):
            if path.is_dir():
                found = sorted(path.glob("*.jsonl"))
                if not found:
                    raise BankFormatError(path, None, "folder holds no *.jsonl bank file")
                files.extend(found)
            elif path.is_file():
                files.append(path)
            else:
                raise FileNotFoundError(f"utterance bank not found: {path}")
        return cls((entry for file in files for entry in read_bank_file(file)), per_group)

    def __len__(self) -> int:
        return sum(len(t) for t in self._groups.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """Utterances per emotion and act."""
        return {e: {a: len(self._groups.get((e, a), ())) for a in BANK_ACTS} for e in FOUR_CLASS}

    def lines(self, emotion: str, act: str) -> tuple[str, ...]:
        """The utterances :meth:`sample` draws from (any act of ``emotion`` when none)."""
        texts = self._groups.get((emotion, act)) or self._by_emotion.get(emotion)
        if not texts:
            raise KeyError(f"no utterance for emotion {emotion!r}")
        return texts

    def sample(self, emotion: str, act: str, rng: np.random.Generator) -> str:
        """One utterance of ``emotion`` and ``act`` (any act of ``emotion`` when none)."""
        texts = self.lines(emotion, act)
        return texts[int(rng.integers(len(texts)))]


def read_bank_file(path: Path) -> list[dict[str, str]]:
    """Validated entries of one JSON-lines bank file."""
    entries = []
    try:
        rows = list(jsonl_rows(path))
    except CorpusFormatError as err:
        raise BankFormatError(err.path, err.line, err.reason) from None
    for lineno, entry in rows:
        for name in REQUIRED_FIELDS:
            if not isinstance(entry.get(name), str) or not entry[name].strip():
                raise BankFormatError(path, lineno, f"field {name!r} missing or not a string")
        if entry["emotion"] not in FOUR_CLASS:
            raise BankFormatError(
                path, lineno, f"field 'emotion': {entry['emotion']!r} not in {list(FOUR_CLASS)}"
            )
        if entry["act"] not in BANK_ACTS:
            raise BankFormatError(
                path, lineno, f"field 'act': {entry['act']!r} not in {list(BANK_ACTS)}"
            )
        entries.append(entry)
    return entries


_CLEAN = re.compile(r"^[A-Za-z0-9 ,.!?'’\-:;$%&()\"]+$")


def usable(text: str, min_words: int = 3, max_words: int = 18) -> bool:
    """Short, plain lines only: no names of odd characters, no very long turns."""
    words = text.split()
    return min_words <= len(words) <= max_words and bool(_CLEAN.match(text))


def build_bank(
    data: str | Path,
    out: str | Path = DEFAULT_BANK_DIR,
    *,
    per_group: int = 100,
    seed: int = 0,
) -> dict[str, int]:
    """Build the bank from ``data`` (the shared corpora folder) into ``out``; idempotent.

    Reads DailyDialog ``train``/``validation`` (emotion and dialogue act) and MELD
    ``train``/``dev`` (emotion; act ``question`` for a line ending in ``?``, else
    ``inform``) in four-class mode, keeps short plain lines, de-duplicates, and draws at
    most ``per_group`` lines per (source, emotion, act) with ``seed``. Writes
    ``dailydialog.jsonl`` and ``meld.jsonl`` (kept apart: their licences differ).
    """
    from emorl.data import load_corpus

    data, out = Path(data), Path(out)
    rng = np.random.default_rng(seed)
    sources = {
        "dailydialog": [data / "dailydialog" / "train", data / "dailydialog" / "validation"],
        "meld": [data / "meld" / "train_sent_emo.csv", data / "meld" / "dev_sent_emo.csv"],
    }
    written: dict[str, int] = {}
    out.mkdir(parents=True, exist_ok=True)
    for source, paths in sources.items():
        groups: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for path in paths:
            for utt in load_corpus(source, path, labels="four").utterances:
                text = (utt.text or "").strip().replace("’", "'")
                if not usable(text):
                    continue
                act = utt.extra.get("act") or ("question" if text.endswith("?") else "inform")
                groups[(utt.label, str(act))].setdefault(text, utt.id)
        lines = []
        for (emotion, act), texts in sorted(groups.items()):
            items = sorted(texts.items())
            keep = rng.permutation(len(items))[:per_group]
            for i in sorted(keep):
                text, uid = items[i]
                record = {"text": text, "emotion": emotion, "act": act, "source": source}
                lines.append(json.dumps({**record, "id": uid}, ensure_ascii=False))
        (out / f"{source}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written[source] = len(lines)
    return written
