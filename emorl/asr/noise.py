"""Simulated recognition errors at a target word error rate.

IEmoNet trained and tested its fusion model on transcripts carrying a simulated 6 % WER,
following the noise-induction idea of Sperber, Niehues and Waibel (2017, "Toward robust neural
machine translation for noisy input sequences"): a simple generative model that substitutes,
deletes and inserts words, with substitutions drawn from acoustically similar words.
:class:`TranscriptNoise` is such a model. What it does, per text:

1. The text is split at whitespace into tokens and each token normalised
   (:mod:`emorl.asr.text_normalization`); ``n`` is the number of normalised reference words.
2. The number of errors is ``k = floor(wer * n)`` plus one with probability
   ``frac(wer * n)``, so its expectation is exactly ``wer * n`` and a corpus WER lands within a
   few tenths of a point of the target (rounding noise only, no binomial spread).
3. Each error's type is drawn from ``mix`` (default 60 % substitutions, 25 % deletions, 15 %
   insertions).
4. Deletions pick tokens with weight ``1 / phones**3``: short words, which are mostly
   function words (``a``, ``the``, ``to``, ``and``), go first.
5. Substitutions pick, uniformly, tokens that have phonetic neighbours, and replace each by a
   neighbour drawn with weight ``exp(-6 * d / L) * prior ** 0.75``: ``d`` the phone edit
   distance (0 for homophones such as ``there``/``their``), ``L`` the word's pronunciation
   length, ``prior`` the word's unigram weight (:mod:`emorl.asr.phonetics`). Casing and the
   punctuation around the word are kept.
6. Insertions add a short frequent word (weight ``prior / phones**2``) at a word boundary
   not next to a deleted word (a deletion beside an insertion would score as one
   substitution); at the end of a text they go before its closing punctuation.
7. Only tokens that normalise to exactly one word are substituted or deleted (numbers written
   as digits stay intact). Errors that find no room are moved (a deletion or substitution
   without an eligible token becomes an insertion; an insertion without a free boundary
   becomes a substitution); if neither fits, the text carries fewer errors.
8. The result is scored against the clean text (:func:`emorl.asr.wer.align`); when the
   alignment finds fewer errors than were made (a substitute equal to a neighbouring word),
   the draw is repeated, up to three times.

Randomness: each text gets its own generator seeded from ``(seed, key)``, ``key`` defaulting to
the text, so a text's noise does not depend on which texts came before it. Pass distinct keys
(e.g. utterance ids) to give repeated texts different errors.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emorl.asr.phonetics import PhoneticLexicon, _default_lexicon
from emorl.asr.text_normalization import normalize_token
from emorl.asr.wer import ErrorCounts, align

__all__ = ["DEFAULT_MIX", "NoisyText", "TranscriptNoise"]

#: Shares of substitutions, deletions and insertions.
DEFAULT_MIX: tuple[float, float, float] = (0.6, 0.25, 0.15)
SIMILARITY_SCALE = 6.0
PRIOR_POWER = 0.75
DELETION_POWER = 3.0
MAX_TRIES = 3
_AFFIXES = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


@dataclass(frozen=True)
class NoisyText:
    """A noised text, its normalised words, the edits made and the errors measured.

    ``edits`` lists what was done, in text order: ``("sub", word, substitute)``,
    ``("del", word, None)``, ``("ins", None, word)``. ``counts`` is what an alignment of the
    normalised words finds (the same number of errors; an adjacent pair of edits may align
    as other types).
    """

    text: str
    reference_words: tuple[str, ...]
    hypothesis_words: tuple[str, ...]
    counts: ErrorCounts
    edits: tuple[tuple[str, str | None, str | None], ...] = ()


class TranscriptNoise:
    """Inject substitutions, deletions and insertions so that texts reach a target WER.

    ``wer`` in [0, 1]; ``mix`` the (substitution, deletion, insertion) shares; ``vocabulary``
    an optional ``{word: weight}`` to draw substitutes and insertions from (default: the
    packaged frequency-ranked vocabulary, see :mod:`emorl.asr.phonetics`). Deterministic for a
    given ``seed``. See the module docstring for the model.
    """

    def __init__(
        self,
        wer: float = 0.06,
        seed: int = 0,
        *,
        mix: Sequence[float] = DEFAULT_MIX,
        vocabulary: Mapping[str, float] | None = None,
    ) -> None:
        if not 0.0 <= wer <= 1.0:
            raise ValueError(f"wer must be in [0, 1], got {wer}")
        shares = np.asarray(mix, dtype=float)
        if shares.shape != (3,) or np.any(shares < 0) or not shares.sum() > 0:
            raise ValueError(
                f"mix must be three non-negative shares (substitution, deletion, insertion), "
                f"got {tuple(mix)}"
            )
        self.wer = float(wer)
        self.seed = int(seed)
        self.mix = tuple(float(x) for x in shares / shares.sum())
        self._vocabulary = vocabulary
        self._lexicon: PhoneticLexicon | None = None

    def __repr__(self) -> str:
        return f"TranscriptNoise(wer={self.wer}, seed={self.seed}, mix={self.mix})"

    @property
    def lexicon(self) -> PhoneticLexicon:
        """The phonetic lexicon, built on first use."""
        if self._lexicon is None:
            if self._vocabulary is None:
                self._lexicon = _default_lexicon()
            else:
                self._lexicon = PhoneticLexicon(self._vocabulary)
        return self._lexicon

    def __call__(self, text: str, key: str | None = None) -> str:
        """The noised text."""
        return self.apply(text, key).text

    def apply(self, text: str, key: str | None = None) -> NoisyText:
        """Noise one text; ``key`` (default: the text) seeds its generator."""
        tokens = text.split()
        words = [normalize_token(token) for token in tokens]
        reference = tuple(w for group in words for w in group)
        if not reference or self.wer == 0.0:
            return NoisyText(text, reference, reference, ErrorCounts(hits=len(reference)))
        rng = np.random.default_rng([self.seed, _stable_hash(text if key is None else key)])
        expected = self.wer * len(reference)
        errors = math.floor(expected) + int(rng.random() < expected - math.floor(expected))
        kinds = rng.choice(3, size=errors, p=self.mix) if errors else np.zeros(0, dtype=int)
        plan = (int(np.sum(kinds == 0)), int(np.sum(kinds == 1)), int(np.sum(kinds == 2)))
        best: NoisyText | None = None
        for _ in range(MAX_TRIES):
            candidate = self._draw(tokens, words, reference, plan, rng)
            if best is None or candidate.counts.errors > best.counts.errors:
                best = candidate
            if candidate.counts.errors >= errors:
                break
        assert best is not None
        return best

    def apply_corpus(
        self, texts: Iterable[str], keys: Iterable[str] | None = None
    ) -> list[NoisyText]:
        """Noise each text (keys default to the texts' positions, as strings)."""
        texts = list(texts)
        keys = [str(i) for i in range(len(texts))] if keys is None else list(keys)
        if len(keys) != len(texts):
            raise ValueError(f"{len(keys)} keys for {len(texts)} texts")
        return [self.apply(text, key) for text, key in zip(texts, keys, strict=True)]

    # ------------------------------------------------------------------ one draw

    def _draw(
        self,
        tokens: list[str],
        words: list[tuple[str, ...]],
        reference: tuple[str, ...],
        plan: tuple[int, int, int],
        rng: np.random.Generator,
    ) -> NoisyText:
        lexicon = self.lexicon
        n_sub, n_del, n_ins = plan
        single = [i for i, group in enumerate(words) if len(group) == 1]
        substitutable = [i for i in single if lexicon.neighbours(words[i][0]).words]

        deleted: set[int] = set()
        pool = single
        take = min(n_del, len(pool))
        if take:
            weights = np.asarray(
                [lexicon.phone_count(words[i][0]) ** -DELETION_POWER for i in pool]
            )
            chosen = rng.choice(len(pool), size=take, replace=False, p=weights / weights.sum())
            deleted = {pool[c] for c in chosen}
        n_ins += n_del - take
        free = [i for i in substitutable if i not in deleted]
        take = min(n_sub, len(free))
        substituted = {free[c] for c in rng.choice(len(free), size=take, replace=False)}
        n_ins += n_sub - take

        gaps = self._free_gaps(words, deleted)
        inserted: dict[int, list[str]] = {}
        if n_ins and not gaps:
            spare = [i for i in substitutable if i not in deleted and i not in substituted]
            extra = min(n_ins, len(spare))
            substituted |= {spare[c] for c in rng.choice(len(spare), size=extra, replace=False)}
        elif n_ins:
            weights = lexicon.short_word_weights()
            picks = rng.choice(len(weights), size=n_ins, p=weights / weights.sum())
            places = rng.choice(len(gaps), size=n_ins)
            for pick, place in zip(picks, places, strict=True):
                inserted.setdefault(gaps[place], []).append(lexicon.words[pick])

        out: list[str] = []
        edits: list[tuple[str, str | None, str | None]] = []
        for index, token in enumerate(tokens):
            for word in inserted.get(index, ()):
                out.append(word)
                edits.append(("ins", None, word))
            if index in deleted:
                _carry_punctuation(out, token)
                edits.append(("del", words[index][0], None))
            elif index in substituted:
                substitute = self._substitute(words[index][0], rng)
                out.append(_replace(token, substitute))
                edits.append(("sub", words[index][0], substitute))
            else:
                out.append(token)
        if inserted.get(len(tokens)):
            _append_before_final_punctuation(out, inserted[len(tokens)])
            edits.extend(("ins", None, word) for word in inserted[len(tokens)])
        hypothesis = tuple(w for token in out for w in normalize_token(token))
        counts = align(reference, hypothesis).counts
        return NoisyText(" ".join(out), reference, hypothesis, counts, tuple(edits))

    def _substitute(self, word: str, rng: np.random.Generator) -> str:
        found = self.lexicon.neighbours(word)
        length = max(self.lexicon.phone_count(word), 1)
        weights = np.exp(-SIMILARITY_SCALE * found.distances / length) * found.priors**PRIOR_POWER
        return found.words[int(rng.choice(len(weights), p=weights / weights.sum()))]

    @staticmethod
    def _free_gaps(words: list[tuple[str, ...]], deleted: set[int]) -> list[int]:
        """Token boundaries (index of the token after) with no deleted word on either side.

        Tokens without words (lone punctuation) are transparent: the neighbours looked at are
        the nearest tokens that have words.
        """
        before: list[int | None] = []  # nearest token with words before each boundary
        last = None
        for index, group in enumerate(words):
            before.append(last)
            if group:
                last = index
        before.append(last)
        after: list[int | None] = [None] * (len(words) + 1)  # ... and at or after it
        following = None
        for index in range(len(words) - 1, -1, -1):
            if words[index]:
                following = index
            after[index] = following
        return [
            boundary
            for boundary in range(len(words) + 1)
            if before[boundary] not in deleted and after[boundary] not in deleted
        ]


def _replace(token: str, word: str) -> str:
    """``word`` in place of the token's core, with the token's casing and punctuation."""
    match = _AFFIXES.match(token)
    assert match is not None
    prefix, core, suffix = match.groups()
    if not core:
        return word
    if len(core) > 1 and core.isupper():
        word = word.upper()
    elif core[0].isupper():
        word = word[:1].upper() + word[1:]
    return prefix + word + suffix


def _carry_punctuation(out: list[str], token: str) -> None:
    """Keep a deleted token's closing punctuation on the previous output token."""
    match = _AFFIXES.match(token)
    suffix = match.group(3) if match else ""
    if out and suffix and not _AFFIXES.match(out[-1]).group(3):  # type: ignore[union-attr]
        out[-1] += suffix


def _append_before_final_punctuation(out: list[str], words: list[str]) -> None:
    """Add ``words`` at the end, moving the last token's closing punctuation after them."""
    match = _AFFIXES.match(out[-1]) if out else None
    if match is None or not match.group(2) or not match.group(3):
        out.extend(words)
        return
    out[-1] = match.group(1) + match.group(2)
    out.extend(words[:-1])
    out.append(words[-1] + match.group(3))


def _stable_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
