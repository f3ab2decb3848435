"""Word error rate: jiwer's alignment of normalised words, with S/D/I counts.

``WER = (S + D + I) / N`` with ``N`` the number of reference words after normalisation. A
corpus WER sums the counts over utterances before dividing (longer utterances weigh more), as
scoring tools do. An empty reference scores every hypothesis word as an insertion; the rate of
a corpus with no reference words is ``inf`` when there are insertions, else 0.

Scoring steps, the same for reference and hypothesis:

1. Normalisation (``normalize=True`` or ``"whisper"``, the default): Whisper's English text
   normaliser (OpenAI's ``EnglishTextNormalizer``, as published with Whisper and used for its
   reported WERs; the class is the copy that ships in ``transformers``, the British-to-American
   spelling table comes from the ``whisper-normalizer`` package), so figures are comparable
   with published Whisper WERs. Its steps, in order: lowercase; drop text in brackets and
   parentheses; drop the fillers ``hmm mm mhm mmm uh um``; expand contractions and titles
   (``won't`` -> ``will not``, ``'s`` -> ``is``, ``mr`` -> ``mister`` ...); drop commas between
   digits and periods not followed by a digit; replace other symbols and punctuation by spaces
   and strip diacritics; write spelled-out numbers in digits (``ten`` -> ``10``, ``twenty
   one`` -> ``21``, ``five five`` -> ``55``, ``ten thousand dollars`` -> ``$10000``); map
   British to American spellings; drop ``.``, ``$``, ``%`` not attached to a number; collapse
   whitespace. Numbers therefore end up as digits, and ``num2words`` is not used here.
   ``normalize="tokens"``: the token-local normaliser of
   :mod:`emorl.asr.text_normalization` instead (numbers spelled out with ``num2words``), which
   the transcript-noise simulator counts with. ``normalize=False``: whitespace split only.
2. The normalised text is split at whitespace into words.
3. ``jiwer.process_words`` aligns the two word sequences (a minimum edit distance with unit
   costs, computed by RapidFuzz) and gives the hits, substitutions, deletions and insertions.
   Among alignments of equal cost, jiwer's choice of error types may differ from another
   tool's (``a b`` -> ``b a`` scores one deletion and one insertion); the total is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from emorl.asr.text_normalization import normalize_words

__all__ = [
    "Alignment",
    "ErrorCounts",
    "align",
    "corpus_wer",
    "normalize_for_wer",
    "word_errors",
]

Op = Literal["ok", "sub", "del", "ins"]
Normalize = bool | Literal["whisper", "tokens"]
_OPS: dict[str, Op] = {"equal": "ok", "substitute": "sub", "delete": "del", "insert": "ins"}


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


def _process(reference: Sequence[str], hypothesis: Sequence[str]) -> Any:
    import jiwer

    for words in (reference, hypothesis):
        bad = [w for w in words if not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"words must be non-empty and free of whitespace, got {bad[0]!r}")
    return jiwer.process_words(" ".join(reference), " ".join(hypothesis))


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> Alignment:
    """Minimal-cost alignment of two word sequences (unit costs), by ``jiwer.process_words``."""
    ref, hyp = list(reference), list(hypothesis)
    out = _process(ref, hyp)
    steps: list[tuple[Op, str | None, str | None]] = []
    for chunk in out.alignments[0]:
        op = _OPS[chunk.type]
        refs = ref[chunk.ref_start_idx : chunk.ref_end_idx]
        hyps = hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if op == "del":
            steps.extend((op, r, None) for r in refs)
        elif op == "ins":
            steps.extend((op, None, h) for h in hyps)
        else:
            steps.extend((op, r, h) for r, h in zip(refs, hyps, strict=True))
    return Alignment(tuple(steps))


@lru_cache(maxsize=1)
def _whisper_normalizer() -> Any:
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer
    from whisper_normalizer.english import EnglishSpellingNormalizer

    return EnglishTextNormalizer(EnglishSpellingNormalizer().mapping)


def normalize_for_wer(text: str, normalize: Normalize = True) -> list[str]:
    """The words of ``text`` as scored (see the module docstring for each ``normalize``)."""
    if normalize is True or normalize == "whisper":
        return _whisper_normalizer()(text).split()
    if normalize == "tokens":
        return normalize_words(text)
    if normalize is False:
        return text.split()
    raise ValueError(f"normalize must be True, False, 'whisper' or 'tokens', got {normalize!r}")


def word_errors(reference: str, hypothesis: str, *, normalize: Normalize = True) -> ErrorCounts:
    """S/D/I counts of ``hypothesis`` against ``reference`` (Whisper-normalised by default)."""
    out = _process(
        normalize_for_wer(reference, normalize), normalize_for_wer(hypothesis, normalize)
    )
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)


def corpus_wer(pairs: Iterable[tuple[str, str]], *, normalize: Normalize = True) -> ErrorCounts:
    """Summed counts over ``(reference, hypothesis)`` pairs; ``.wer`` is the corpus WER."""
    total = ErrorCounts()
    for reference, hypothesis in pairs:
        total = total + word_errors(reference, hypothesis, normalize=normalize)
    return total
