"""Emotion label sets and the maps from each corpus's labels onto them.

The paper's four classes are ``neutral``, ``happy``, ``sad`` and ``angry``, in
this order. Each corpus keeps its full label set too; ``to_label_set`` maps a
corpus label into the four-class set (``None`` when the class is dropped) or
keeps it unchanged in full-label mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

FOUR_CLASS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
SENTIMENT: tuple[str, ...] = ("negative", "neutral", "positive")

LabelMode = Literal["four", "full"]

#: Every corpus's full label set, with canonical lowercase names.
CORPUS_LABELS: dict[str, tuple[str, ...]] = {
    "semeval": SENTIMENT,
    "meld": ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"),
    "dailydialog": (
        "no emotion",
        "anger",
        "disgust",
        "fear",
        "happiness",
        "sadness",
        "surprise",
    ),
    "iemocap": (
        "neutral",
        "happy",
        "sad",
        "angry",
        "excited",
        "frustrated",
        "fearful",
        "surprised",
        "disgusted",
        "other",
    ),
    "ravdess": (
        "neutral",
        "calm",
        "happy",
        "sad",
        "angry",
        "fearful",
        "disgust",
        "surprised",
    ),
    "emodb": ("neutral", "happy", "sad", "angry", "boredom", "disgust", "fear"),
    "tess": ("neutral", "happy", "sad", "angry", "disgust", "fear", "pleasant_surprise"),
    "cremad": ("neutral", "happy", "sad", "angry", "disgust", "fear"),
}

#: Corpus label -> four-class label. Labels absent here are dropped in four-class mode.
FOUR_CLASS_MAPS: dict[str, Mapping[str, str]] = {
    "meld": {"neutral": "neutral", "joy": "happy", "sadness": "sad", "anger": "angry"},
    "dailydialog": {
        "no emotion": "neutral",
        "happiness": "happy",
        "sadness": "sad",
        "anger": "angry",
    },
    # ``excited`` joins ``happy`` only when a reader is asked to merge it (the paper does).
    "iemocap": {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"},
    # RAVDESS ``calm`` is read as ``neutral``: a documented choice, both are low-arousal
    # non-emotional deliveries of the same sentences.
    "ravdess": {
        "neutral": "neutral",
        "calm": "neutral",
        "happy": "happy",
        "sad": "sad",
        "angry": "angry",
    },
    "emodb": {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"},
    "tess": {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"},
    "cremad": {"neutral": "neutral", "happy": "happy", "sad": "sad", "angry": "angry"},
}


def label_set(corpus: str, mode: LabelMode = "four") -> tuple[str, ...]:
    """The labels a corpus yields in ``mode`` (SemEval is always three-class sentiment)."""
    if corpus not in CORPUS_LABELS:
        raise KeyError(f"unknown corpus {corpus!r}; known: {', '.join(sorted(CORPUS_LABELS))}")
    if corpus == "semeval" or mode == "full":
        return CORPUS_LABELS[corpus]
    if mode == "four":
        return FOUR_CLASS
    raise ValueError(f"label mode must be 'four' or 'full', got {mode!r}")


def to_label_set(corpus: str, label: str, mode: LabelMode = "four") -> str | None:
    """Map one corpus label into ``mode``; ``None`` means the class is dropped there.

    Raises ``ValueError`` for a label that is not in the corpus's label set.
    """
    full = label_set(corpus, "full")
    if label not in full:
        raise ValueError(f"{corpus}: unknown label {label!r}; expected one of {', '.join(full)}")
    if corpus == "semeval" or mode == "full":
        return label
    return FOUR_CLASS_MAPS[corpus].get(label)
