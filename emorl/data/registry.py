"""Corpus names -> readers, and :func:`load_corpus`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from emorl.data._common import check_mode
from emorl.data.dailydialog import read_dailydialog
from emorl.data.iemocap import read_iemocap
from emorl.data.manifest import read_manifest
from emorl.data.meld import read_meld
from emorl.data.semeval import read_semeval
from emorl.data.speech_corpora import read_cremad, read_emodb, read_ravdess, read_tess
from emorl.data.utterance import Corpus

#: Every reader takes ``(path, *, labels="four", **options)`` and returns a :class:`Corpus`.
CORPUS_READERS: dict[str, Callable[..., Corpus]] = {
    "semeval": read_semeval,
    "meld": read_meld,
    "dailydialog": read_dailydialog,
    "iemocap": read_iemocap,
    "manifest": read_manifest,
    "ravdess": read_ravdess,
    "emodb": read_emodb,
    "tess": read_tess,
    "cremad": read_cremad,
}


def load_corpus(
    name: str,
    path: str | Path,
    *,
    labels: Literal["four", "full"] = "four",
    **options: Any,
) -> Corpus:
    """Read corpus ``name`` from ``path`` with labels mapped into ``labels`` mode.

    ``options`` go to the reader (e.g. IEMOCAP ``min_duration``, manifest ``label_set``).
    Raises ``ValueError`` for an unknown name or mode, ``FileNotFoundError`` for a missing
    path, :class:`CorpusFormatError` for malformed data.
    """
    if name not in CORPUS_READERS:
        raise ValueError(f"unknown corpus {name!r}; known: {', '.join(sorted(CORPUS_READERS))}")
    check_mode(labels)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder for corpus {name!r}")
    return CORPUS_READERS[name](path, labels=labels, **options)
