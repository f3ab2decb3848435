"""Fine-tuning a text emotion recognizer, with atomic checkpoints and resume.

The paper's recipe: weighted cross-entropy, Adam at 3e-5, a fixed number of epochs,
L2 on the head's fully connected layer. Batches are drawn in an order fixed by
``(seed, epoch)``, so a run resumed from its checkpoint continues exactly where it
stopped and two runs with one seed agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emorl.evaluation import ClassificationReport, classification_report
from emorl.recognizers.text.input import clean_texts
from emorl.recognizers.text.model import TextEmotionRecognizer
from emorl.recognizers.training import (
    CHECKPOINT_NAME,
    TrainingConfig,
    TrainingResult,
    key_settings,
    resolve_device,
    run_epochs,
)

__all__ = [
    "CHECKPOINT_NAME",
    "PRIOR_TAUS",
    "TERTrainingConfig",
    "TrainingResult",
    "choose_prior_correction",
    "prior_offsets",
    "train_ter",
]


@dataclass
class TERTrainingConfig(TrainingConfig):
    """How a TER is fine-tuned (the paper's settings by default, 7 epochs on IEMOCAP)."""

    epochs: int = 7
    learning_rate: float = 3e-5
    checkpoint_every: int = 200


def cap_per_class(labels: Sequence[int], max_per_class: int, *, seed: int) -> np.ndarray:
    """Indices keeping at most ``max_per_class`` random examples of each class (sorted)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        if len(idx) > max_per_class:
            idx = rng.choice(idx, size=max_per_class, replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep))


def _config_key(model: TextEmotionRecognizer, training: TERTrainingConfig, n: int) -> str:
    return json.dumps(
        {"model": asdict(model.config), "training": key_settings(training), "n": n},
        sort_keys=True,
        default=list,
    )


def evaluate_ter(
    model: TextEmotionRecognizer, texts: Sequence[str], labels: Sequence[int], batch_size: int = 64
) -> ClassificationReport:
    """WA, UA, macro-F1 and confusion of ``model`` on labelled texts."""
    probs = model.probabilities(list(texts), batch_size=batch_size)
    return classification_report(np.asarray(labels), probs.argmax(axis=1), model.labels)


#: The prior-correction strengths ``auto`` chooses from (0: none, 1: the full correction,
#: which makes the decision rule the one that maximises unweighted accuracy).
PRIOR_TAUS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def prior_offsets(shares: Sequence[float], tau: float) -> tuple[float, ...]:
    """Logit offsets ``-tau * log(share)``: post-hoc logit adjustment (Menon et al., 2021).

    With ``tau = 1`` a model trained with unweighted cross-entropy on data with class
    ``shares`` decides as if every class were equally frequent (the rule that maximises UA,
    SemEval's macro-recall); ``0`` leaves it unchanged.
    """
    p = np.asarray(shares, dtype=np.float64)
    if p.ndim != 1 or np.any(p <= 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"class shares must be positive and sum to 1, got {list(shares)}")
    if not 0.0 <= tau <= 2.0:
        raise ValueError(f"prior correction strength must be in [0, 2], got {tau}")
    return tuple(float(v) for v in -tau * np.log(p))


def choose_prior_correction(
    probs: np.ndarray,
    labels: Sequence[int],
    shares: Sequence[float],
    names: Sequence[str],
    taus: Sequence[float] = PRIOR_TAUS,
) -> tuple[float, dict[str, dict[str, float]]]:
    """The strength in ``taus`` with the best validation UA (ties: the weaker one), and the
    validation accuracy, UA and macro-F1 of every strength."""
    log_p = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    scores: dict[str, dict[str, float]] = {}
    best, best_ua = taus[0], -1.0
    for tau in taus:
        adjusted = log_p + np.asarray(prior_offsets(shares, tau))
        report = classification_report(np.asarray(labels), adjusted.argmax(axis=1), names)
        scores[f"{tau:g}"] = {
            "accuracy": report.accuracy,
            "ua": report.ua,
            "macro_f1": report.macro_f1,
            **report.extra,
        }
        if report.ua > best_ua + 1e-12:
            best, best_ua = tau, report.ua
    return float(best), scores


def train_ter(
    model: TextEmotionRecognizer,
    texts: Sequence[str],
    labels: Sequence[int],
    training: TERTrainingConfig,
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[int] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Fine-tune ``model`` in place; resume from ``checkpoint_dir`` when it holds a checkpoint.

    ``history["train_loss"]`` is the weighted cross-entropy; the head's L2 term is
    minimised but left out of the reported loss.
    """
    texts = clean_texts(list(texts), model.config.max_length)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(y)} labels")
    n_classes = len(model.labels)
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class indices in 0..{n_classes - 1}")
    device = resolve_device(training.device)
    tokens = model.tokenize(texts).ids
    net = model.net.to(device)
    weights = training.class_weight_vector(y, n_classes)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32)).to(device)
    optimizer = torch.optim.Adam(
        [p for p in net.parameters() if p.requires_grad], lr=training.learning_rate
    )

    def loss_of_batch(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        input_ids, mask = model.collate([tokens[i] for i in batch])
        target = torch.from_numpy(y[batch]).to(device)
        cross_entropy = loss_fn(net(input_ids.to(device), mask.to(device)), target)
        return cross_entropy + model.config.l2 * net.l2_penalty(), cross_entropy

    validate = val_texts is not None and val_labels is not None

    last: dict[str, ClassificationReport] = {}

    def evaluate() -> dict[str, float]:
        report = last["report"] = evaluate_ter(model, val_texts, val_labels)
        return {"accuracy": report.accuracy, "ua": report.ua, "macro_f1": report.macro_f1}

    settings = training.loop_settings("fine-tuning TER")
    try:
        result = run_epochs(
            net,
            len(y),
            loss_of_batch,
            optimizer,
            settings,
            evaluate=evaluate if validate else None,
            checkpoint_dir=checkpoint_dir,
            key=_config_key(model, training, len(y)),
            progress=progress,
        )
    finally:
        net.to("cpu")  # the model is saved and used on the CPU
    if validate:
        # the last epoch's report, unless a better earlier epoch was restored
        restored = result.best_epoch not in (None, len(result.history["train_loss"]))
        restored = restored or "report" not in last  # resumed with no epoch left to run
        result.validation = (
            evaluate_ter(model, val_texts, val_labels) if restored else last["report"]
        )
    return result
