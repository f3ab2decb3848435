"""The utterance bank: real dialogue lines indexed by emotion and dialogue act.

A bank is one or more JSON-lines files, one utterance a line::

    {"text": "Shame on you!", "emotion": "angry", "act": "directive",
     "source": "dailydialog", "id": "validation_12_3"}

``emotion`` is one of the four classes, ``act`` one of DailyDialog's four acts
(``inform``, ``question``, ``directive``, ``commissive``). The shipped bank
(``emorl/simulator/bank/reactions.jsonl``) holds short, context-free reactions built by
:func:`build_bank` from the MELD ``dev`` and DailyDialog ``validation`` splits only:
no line the shipped text recognizer was trained on (MELD ``train``, DailyDialog
``train``) is in it. The caller language (:mod:`emorl.simulator.caller_language`) uses
them as openers; point :class:`UtteranceBank` at your own files to use other lines.
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
DEFAULT_BANK_DIR = Path(__file__).resolve().parent / "bank"
BANK_FILE = "reactions.jsonl"
REQUIRED_FIELDS = ("text", "emotion", "act")


class BankFormatError(CorpusFormatError):
    """A bank file is malformed; the message names the file, line and field."""


class UtteranceBank:
    """Utterances grouped by ``(emotion, act)``, sampled with a caller's generator.

    Every line of a group is kept and :meth:`sample` draws uniformly over the whole group
    (a repeated text counts once).
    """

    def __init__(self, entries: Iterable[dict[str, str]]) -> None:
        groups: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
        for entry in entries:
            groups[(entry["emotion"], entry["act"])].setdefault(entry["text"])
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
    def load(cls, paths: str | Path | Sequence[str | Path] | None = None) -> UtteranceBank:
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
        return cls(entry for file in files for entry in read_bank_file(file))

    def __len__(self) -> int:
        return sum(len(t) for t in self._groups.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """Utterances per emotion and act."""
        return {e: {a: len(self._groups.get((e, a), ())) for a in BANK_ACTS} for e in FOUR_CLASS}

    def all_lines(self, emotion: str) -> tuple[str, ...]:
        """Every utterance of ``emotion`` (any act; empty when none)."""
        return self._by_emotion.get(emotion, ())

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


#: Every word of a bank line must be one of these (lowercased, apostrophes kept): a closed
#: vocabulary of interjections, evaluations, politeness words and function words. It has
#: no names, no third-person pronouns (he, she, they, him, her, them, his, their...), no
#: "it", no family or address words (mom, honey, sir...) and no content nouns, so a line
#: that passes refers to nothing outside the call it is used in.
REACTION_WORDS: frozenset[str] = frozenset(
    """
    a absolutely again all am amazing an and anyway appreciate are aw awful bad be believe
    better bit but can can't cool could damn damnit definitely do don't done enough ever
    exactly excellent excessive fault fine for get glad god gonna good great ha happy harsh
    hate hear help helpful i i'd i'll i'm i've idea impressed in incredible is isn't just
    kidding kind kindly know let lot lovely me mean mind much my nevermind nice no not now
    of oh ok okay on perfect pity plan please pleased pretty quite really ridiculous right
    sad shame so sorry sounds stupid sure terrible thank thanks that that's the this timing
    to too totally true ugh uh unbelievable very was wasn't well what why wish with
    wonderful work worst would wow yeah yes yet you you're your
    """.split()  # noqa: SIM905 (a word list reads better as prose)
)
#: A line may not start with a word that continues an earlier turn.
CONTINUATIONS: frozenset[str] = frozenset({"and", "but", "so", "because", "then", "or"})
#: The splits a bank may be built from, and the ones it must share no line with (the
#: shipped text emotion recognizer was trained on the latter).
BANK_SOURCES: dict[str, str] = {
    "meld": "meld/dev_sent_emo.csv",
    "dailydialog": "dailydialog/validation",
}
FORBIDDEN_SOURCES: dict[str, str] = {
    "meld": "meld/train_sent_emo.csv",
    "dailydialog": "dailydialog/train",
}
MAX_WORDS = 6

_WORD = re.compile(r"[a-z0-9']+")


def normalise(text: str) -> str:
    """Lowercase words only (apostrophes kept, punctuation dropped): the overlap key."""
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


def clean(text: str) -> str:
    """Straight apostrophes, ``...`` for an ellipsis, single spaces, one ``!``/``?``."""
    text = text.replace("’", "'").replace("‘", "'").replace("…", "...")
    text = re.sub(r"([!?])[!?]+", r"\1", " ".join(text.split()))
    return text.strip()


_ELLIPTICAL = re.compile(
    r"\b(?:i|you|we)\s+(?:really\s+)?(?:would|do|did|am|are|can|will|have)\b(?:\s+know)?"
    r"\s*[.!?,]",
    re.IGNORECASE,
)


def context_free(text: str, max_words: int = MAX_WORDS) -> bool:
    """A short, complete reaction that needs no context: the bank's filter.

    At most ``max_words`` words, starting with a capital letter and ending in ``.``,
    ``!`` or ``?``, no digits, not starting with a continuation word
    (:data:`CONTINUATIONS`), no clause ending in an elliptical auxiliary ("Yes, I would.",
    "Okay, I do.": answers to a question the caller was never asked), and every word in
    :data:`REACTION_WORDS` (which rules out names, third parties and content nouns).
    """
    words = _WORD.findall(text.lower())
    if not words or len(text.split()) > max_words or not text.endswith((".", "!", "?")):
        return False
    if _ELLIPTICAL.search(text):
        return False
    if any(c.isdigit() for c in text) or words[0] in CONTINUATIONS or not text[0].isupper():
        return False
    return all(w in REACTION_WORDS for w in words)


def forbidden_texts(data: str | Path) -> set[str]:
    """Normalised texts of every line in the splits the shipped recognizer learned from."""
    from emorl.data import load_corpus

    data = Path(data)
    seen: set[str] = set()
    for source, rel in FORBIDDEN_SOURCES.items():
        for utt in load_corpus(source, data / rel, labels="full").utterances:
            seen.add(normalise(utt.text or ""))
    return seen


def build_bank(
    data: str | Path,
    out: str | Path = DEFAULT_BANK_DIR,
    *,
    per_group: int | None = None,
    seed: int = 0,
) -> dict[str, int]:
    """Build the reaction bank from ``data`` (the shared corpora folder) into ``out``.

    Reads MELD ``dev`` (act ``question`` for a line ending in ``?``, else ``inform``) and
    DailyDialog ``validation`` (its own act) in four-class mode, labelled by the corpus's
    own emotion; keeps the lines that pass :func:`context_free` after :func:`clean`, drops
    every line whose :func:`normalise` d text occurs anywhere in MELD ``train`` or
    DailyDialog ``train`` (any label) and duplicates (first id kept). With ``per_group``,
    at most that many lines per (emotion, act) are drawn at random with ``seed`` (never
    the first ones in file order). Writes ``reactions.jsonl`` sorted by emotion, act,
    text; idempotent. Returns lines written per source.
    """
    from emorl.data import load_corpus

    if per_group is not None and per_group < 1:
        raise ValueError(f"per_group must be at least 1, got {per_group}")
    data, out = Path(data), Path(out)
    forbidden = forbidden_texts(data)
    groups: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    seen: set[str] = set()
    for source, rel in BANK_SOURCES.items():
        for utt in load_corpus(source, data / rel, labels="four").utterances:
            text = clean(utt.text or "")
            key = normalise(text)
            if not context_free(text) or key in forbidden or key in seen:
                continue
            seen.add(key)
            act = utt.extra.get("act") or ("question" if text.endswith("?") else "inform")
            record = {"text": text, "emotion": utt.label, "act": str(act), "source": source}
            groups[(utt.label, str(act))][text] = {**record, "id": utt.id}
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    written = dict.fromkeys(BANK_SOURCES, 0)
    for _, texts in sorted(groups.items()):
        items = [texts[t] for t in sorted(texts)]
        if per_group is not None and len(items) > per_group:
            keep = sorted(rng.permutation(len(items))[:per_group])
            items = [items[i] for i in keep]
        for record in items:
            lines.append(json.dumps(record, ensure_ascii=False))
            written[record["source"]] += 1
    out.mkdir(parents=True, exist_ok=True)
    (out / BANK_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written
