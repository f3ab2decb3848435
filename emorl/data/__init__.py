"""Corpus readers: every supported corpus read into :class:`Corpus` of :class:`Utterance`.

>>> corpus = load_corpus("meld", "data/meld", labels="four")  # doctest: +SKIP

See :data:`CORPUS_READERS` for the names; each reader's docstring gives its layout,
options and the ``corpus.skipped`` reasons it uses.
"""

from __future__ import annotations

from emorl.data.dailydialog import detokenize
from emorl.data.registry import CORPUS_READERS, load_corpus
from emorl.data.utterance import Corpus, CorpusFormatError, Utterance

__all__ = [
    "CORPUS_READERS",
    "Corpus",
    "CorpusFormatError",
    "Utterance",
    "detokenize",
    "load_corpus",
]
