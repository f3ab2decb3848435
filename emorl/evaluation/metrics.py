"""Classification metrics shared by every recognizer.

WA (weighted accuracy) is plain accuracy; UA (unweighted accuracy) is the mean
per-class recall. Both, and macro-F1, follow the paper's protocol. For the
three-class sentiment set, SemEval-2017 task 4A's macro-averaged recall and
F1^PN are added as extras. The scores are scikit-learn's (``accuracy_score``,
``balanced_accuracy_score``, ``precision_recall_fscore_support``, ``confusion_matrix``);
the expected calibration error is computed here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEMEVAL_LABELS: frozenset[str] = frozenset({"negative", "neutral", "positive"})


def _as_index_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D int64 array; non-integer values raise ``ValueError``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = arr[~np.isfinite(arr) | (arr != np.round(arr))]
        if bad.size:
            raise ValueError(f"{name} holds a non-integer class index: {bad[0]!r}")
    return arr.astype(np.int64)


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts as an ``(n_classes, n_classes)`` int64 matrix: rows true, columns predicted.

    Raises ``ValueError`` for mismatched lengths or an index outside ``[0, n_classes)``.
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    t = _as_index_array(y_true, "y_true")
    p = _as_index_array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} != {p.size}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = arr[(arr < 0) | (arr >= n_classes)]
        if bad.size:
            raise ValueError(f"{name} holds class index {int(bad[0])}, outside [0, {n_classes})")
    from sklearn import metrics as _sk  # imported on use: keeps `import emorl` fast

    return _sk.confusion_matrix(t, p, labels=np.arange(n_classes)).astype(np.int64)


@dataclass
class ClassificationReport:
    """Scores of one set of predictions.

    ``ua`` (balanced accuracy: mean recall) averages over the classes that have at least
    one true sample, as scikit-learn's ``balanced_accuracy_score`` does. ``macro_f1``
    averages over every class in ``labels``, as ``f1_score(average="macro",
    labels=all classes, zero_division=0)`` does: a class absent from the true labels
    scores F1 = 0 (so it lowers the mean) and, when predicted, costs the predicted
    class's precision. ``per_class`` lists every class, absent ones included (precision or
    recall with a zero denominator is 0). ``extra`` holds corpus-specific scores
    (SemEval-2017: ``macro_recall``, ``f1_pn``).
    """

    labels: tuple[str, ...]
    n: int
    accuracy: float
    ua: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: np.ndarray
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view; ``extra`` keys are merged in at top level."""
        out: dict[str, Any] = {
            "labels": list(self.labels),
            "n": int(self.n),
            "accuracy": float(self.accuracy),
            "ua": float(self.ua),
            "macro_f1": float(self.macro_f1),
            "per_class": {
                label: {k: (int(v) if k == "support" else float(v)) for k, v in scores.items()}
                for label, scores in self.per_class.items()
            },
            "confusion": np.asarray(self.confusion).astype(int).tolist(),
        }
        for key, value in self.extra.items():
            out[key] = float(value)
        return out


def classification_report(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]
) -> ClassificationReport:
    """WA, UA, macro-F1, per-class scores and the confusion matrix of integer predictions.

    ``labels[i]`` names class index ``i``; ``macro_f1`` averages over all of them, also
    classes with no true sample (see :class:`ClassificationReport`). Empty input raises
    ``ValueError``. When the labels are exactly negative/neutral/positive (any order),
    ``extra`` gets SemEval-2017's ``macro_recall`` (mean recall over all three classes)
    and ``f1_pn`` (mean F1 of the positive and negative classes).
    """
    names = tuple(str(label) for label in labels)
    if not names:
        raise ValueError("labels must not be empty")
    if len(set(names)) != len(names):
        raise ValueError(f"labels must be unique, got {names}")
    if len(y_true) == 0:
        raise ValueError("cannot score empty predictions")
    from sklearn import metrics as _sk

    cm = confusion_matrix(y_true, y_pred, len(names))
    t, p = _as_index_array(y_true, "y_true"), _as_index_array(y_pred, "y_pred")
    every = np.arange(len(names))
    precision, recall, f1, support = _sk.precision_recall_fscore_support(
        t, p, labels=every, average=None, zero_division=0
    )
    with warnings.catch_warnings():
        # "y_pred contains classes not in y_true": such classes have no recall to average
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        ua = _sk.balanced_accuracy_score(t, p)
    n = int(cm.sum())
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(names)
    }
    report = ClassificationReport(
        labels=names,
        n=n,
        accuracy=float(_sk.accuracy_score(t, p)),
        ua=float(ua),
        macro_f1=float(f1.mean()),
        per_class=per_class,
        confusion=cm,
    )
    if len(names) == 3 and set(names) == SEMEVAL_LABELS:
        report.extra["macro_recall"] = float(recall.mean())
        report.extra["f1_pn"] = float(
            (per_class["positive"]["f1"] + per_class["negative"]["f1"]) / 2
        )
        report.extra["accuracy_2017_prior"] = accuracy_at_prior(report, SEMEVAL_2017_TEST_PRIOR)
    return report


#: Class shares of the SemEval-2017 4A test set (12,284 tweets, published with the task):
#: twice the negative share of the 2013-2016 sets, so accuracy there differs from accuracy
#: on a validation set with the older shares.
SEMEVAL_2017_TEST_PRIOR: dict[str, float] = {
    "positive": 0.193,
    "neutral": 0.483,
    "negative": 0.323,
}


def accuracy_at_prior(report: ClassificationReport, prior: dict[str, float]) -> float:
    """The accuracy the report's per-class recalls give on data with class shares ``prior``.

    ``Σ_c prior(c)·recall(c)`` with ``prior`` renormalised to sum to one: what accuracy
    becomes under a label shift that leaves each class's texts alike (recall per class is
    unchanged by the shares).
    """
    missing = sorted(set(prior) - set(report.per_class))
    if missing:
        raise ValueError(f"prior names classes the report lacks: {missing}")
    total = sum(prior.values())
    return float(sum(share * report.per_class[c]["recall"] for c, share in prior.items()) / total)


def expected_calibration_error(probs: np.ndarray, y_true: Sequence[int], n_bins: int = 15) -> float:
    """Top-label expected calibration error with ``n_bins`` equal-width bins on [0, 1].

    Each sample falls in the bin ``(lo, hi]`` holding its top probability (0 goes to the
    first bin); ECE is the sample-weighted mean of ``|accuracy - mean confidence|``.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
        raise ValueError(f"probs must be a non-empty (n, n_classes) array, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probs must hold finite values in [0, 1]")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    t = _as_index_array(y_true, "y_true")
    if t.size != p.shape[0]:
        raise ValueError(f"probs has {p.shape[0]} rows but y_true has {t.size} labels")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=correct, minlength=n_bins)
        - np.bincount(bins, weights=confidence, minlength=n_bins)
    )
    # Per bin: |sum(correct) - sum(conf)| / n == (count / n) * |acc - conf|.
    return float(gap[counts > 0].sum() / t.size)
