"""Turning corpora into the (texts, class indices) a text recognizer trains on."""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from emorl.data import Corpus, Utterance


@dataclass
class TextSet:
    """Texts with class indices into ``labels``, and where they came from."""

    labels: tuple[str, ...]
    texts: list[str] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        found = Counter(self.y)
        return {label: found.get(i, 0) for i, label in enumerate(self.labels)}

    def subset(self, index: Sequence[int]) -> TextSet:
        return TextSet(
            self.labels,
            [self.texts[i] for i in index],
            [self.y[i] for i in index],
            [self.sources[i] for i in index],
        )

    def extend(self, other: TextSet) -> None:
        if other.labels != self.labels:
            raise ValueError(f"label sets differ: {self.labels} vs {other.labels}")
        self.texts += other.texts
        self.y += other.y
        self.sources += other.sources


def text_set(utterances: Sequence[Utterance], labels: Sequence[str], source: str) -> TextSet:
    """Utterances with text as a ``TextSet``; an utterance without text is an error."""
    index = {label: i for i, label in enumerate(labels)}
    result = TextSet(tuple(labels))
    for utt in utterances:
        if not utt.text or not utt.text.strip():
            raise ValueError(f"{source}: utterance {utt.id} has no text")
        if utt.label not in index:
            raise ValueError(
                f"{source}: utterance {utt.id} has label {utt.label!r}, "
                f"not one of {', '.join(labels)}"
            )
        result.texts.append(utt.text)
        result.y.append(index[utt.label])
        result.sources.append(source)
    return result


def split_where(
    corpus: Corpus, conditions: Sequence[str], utterances: Sequence[Utterance] | None = None
) -> tuple[list[Utterance], list[Utterance]]:
    """Split utterances (default: all of ``corpus``) into (kept, held out) by
    ``FIELD=VALUE`` conditions.

    ``FIELD`` is an ``Utterance`` attribute (speaker, dialogue...) or a key of its
    ``extra`` (e.g. SemEval ``source=twitter-2016test-A``); ``VALUE`` is matched whole,
    with shell wildcards (``source=twitter-2016*``). An utterance matching any condition
    is held out. A condition that matches nothing is an error.
    """
    parsed = []
    for cond in conditions:
        name, sep, value = cond.partition("=")
        if not sep or not name:
            raise ValueError(f"condition must be FIELD=VALUE, got {cond!r}")
        parsed.append((name, value))
    kept, held = [], []
    hits = Counter()
    for utt in corpus.utterances if utterances is None else utterances:
        matched = False
        for name, value in parsed:
            found = getattr(utt, name, None) if name != "extra" else None
            if found is None:
                found = utt.extra.get(name)
            if found is not None and fnmatch.fnmatchcase(str(found), value):
                hits[(name, value)] += 1
                matched = True
        (held if matched else kept).append(utt)
    for name, value in parsed:
        if hits[(name, value)] == 0:
            raise ValueError(f"{name}={value} matches no utterance of {corpus.name}")
    return kept, held


def group_names(utterances: Sequence[Utterance], key: str) -> np.ndarray:
    """Group id per utterance (``dialogue`` or ``speaker``), for group-exclusive splits."""
    values = [getattr(u, key) for u in utterances]
    if any(v is None for v in values):
        raise ValueError(f"some utterances have no {key}: cannot split by it")
    return np.asarray(values)
