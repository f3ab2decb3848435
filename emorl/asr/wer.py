"""Word error rate: Levenshtein alignment of normalised words with S/D/I counts.

``WER = (S + D + I) / N`` with ``N`` the number of reference words, after both texts went
through :func:`emorl.asr.text_normalization.normalize_words`. A corpus WER sums the counts
over utterances before dividing (longer utterances weigh more), as scoring tools do. An empty
reference scores every hypothesis word as an insertion; the rate of a corpus with no
reference words is ``inf`` when there are insertions, else 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from emorl.asr.text_normalization import normalize_words

__all__ = ["Alignment", "ErrorCounts", "align", "corpus_wer", "word_errors"]

Op = Literal["ok", "sub", "del", "ins"]


@dataclass(frozen=True)
class ErrorCounts:
    """Substitutions, deletions, insertions, correct words and reference length."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0

    @property
    def reference_words(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        n = self.reference_words
        if n == 0:
            return float("inf") if self.insertions else 0.0
        return self.errors / n

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
        )

    def to_dict(self) -> dict[str, float | int]:
        return {
            "wer": self.wer,
            "words": self.reference_words,
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
        }


@dataclass(frozen=True)
class Alignment:
    """One minimal edit path: ``(op, reference word or None, hypothesis word or None)``."""

    steps: tuple[tuple[Op, str | None, str | None], ...]

    @property
    def counts(self) -> ErrorCounts:
        ops = [op for op, _, _ in self.steps]
        return ErrorCounts(ops.count("sub"), ops.count("del"), ops.count("ins"), ops.count("ok"))


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> Alignment:
    """Minimal-cost alignment of two word sequences (unit costs; ties prefer sub, del, ins)."""
    n, m = len(reference), len(hypothesis)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i
    for j in range(1, m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        row, prev, ref = cost[i], cost[i - 1], reference[i - 1]
        for j in range(1, m + 1):
            diagonal = prev[j - 1] + (ref != hypothesis[j - 1])
            row[j] = min(diagonal, prev[j] + 1, row[j - 1] + 1)
    steps: list[tuple[Op, str | None, str | None]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            same = reference[i - 1] == hypothesis[j - 1]
            steps.append(("ok" if same else "sub", reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            steps.append(("del", reference[i - 1], None))
            i -= 1
        else:
            steps.append(("ins", None, hypothesis[j - 1]))
            j -= 1
    return Alignment(tuple(reversed(steps)))


def word_errors(reference: str, hypothesis: str, *, normalize: bool = True) -> ErrorCounts:
    """S/D/I counts of ``hypothesis`` against ``reference`` (normalised unless told not to)."""
    if normalize:
        ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    else:
        ref, hyp = reference.split(), hypothesis.split()
    return align(ref, hyp).counts


def corpus_wer(pairs: Iterable[tuple[str, str]], *, normalize: bool = True) -> ErrorCounts:
    """Summed counts over ``(reference, hypothesis)`` pairs; ``.wer`` is the corpus WER."""
    total = ErrorCounts()
    for reference, hypothesis in pairs:
        total = total + word_errors(reference, hypothesis, normalize=normalize)
    return total
