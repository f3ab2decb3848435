"""Evaluation core shared by every recognizer (text, speech, fusion).

Metrics (WA, UA, macro-F1, SemEval-2017 extras, ECE), deterministic (group-exclusive)
splits, the folds x seeds cross-validation protocol, and PNG plots. Importing this
package does not import matplotlib.
"""

from __future__ import annotations

from emorl.evaluation.crossval import CVResult, CVRun, cross_validate, save_cv
from emorl.evaluation.metrics import (
    ClassificationReport,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
)
from emorl.evaluation.plots import plot_confusion_matrix, plot_learning_curves
from emorl.evaluation.splits import group_holdout, group_kfold, holdout, kfold

__all__ = [
    "CVResult",
    "CVRun",
    "ClassificationReport",
    "classification_report",
    "confusion_matrix",
    "cross_validate",
    "expected_calibration_error",
    "group_holdout",
    "group_kfold",
    "holdout",
    "kfold",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "save_cv",
]
