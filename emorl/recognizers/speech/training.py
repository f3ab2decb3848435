"""Training a speech emotion recognizer on precomputed IS09 frame sequences.

The normaliser is fitted on the training sequences only (per speaker in
``normalization="speaker"`` mode). Validation speakers are normalised with statistics
from their own unlabelled clips, the speaker-normalisation protocol. Weighted
cross-entropy, Adam, a fixed number of epochs or the best epoch on validation
(``select``, ``patience``), atomic checkpoints and exact resume.
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
from emorl.recognizers.speech.features import FeatureNormalizer
from emorl.recognizers.speech.model import SpeechEmotionRecognizer
from emorl.recognizers.training import (
    TrainingConfig,
    TrainingResult,
    key_settings,
    resolve_device,
    run_epochs,
)


@dataclass
class SERTrainingConfig(TrainingConfig):
    """How the speech network is trained: 12 epochs, three time masks and noise 0.2."""

    epochs: int = 12
    max_grad_norm: float | None = 5.0
    time_masks: int = 3
    time_mask_frames: int = 20
    feature_noise: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.time_masks < 0 or self.time_mask_frames < 1 or self.feature_noise < 0:
            raise ValueError("time_masks and feature_noise must be >= 0 and time_mask_frames >= 1")


def augment(x: torch.Tensor, lengths: torch.Tensor, training: SERTrainingConfig) -> torch.Tensor:
    """Training-time augmentation of normalised frames (draws from torch's RNG).

    ``time_masks`` spans of up to ``time_mask_frames`` frames each are set to 0 (the
    normalised mean) at random places inside each clip; Gaussian noise of standard
    deviation ``feature_noise`` is added to every real frame.
    """
    if training.time_masks == 0 and training.feature_noise == 0:
        return x
    x = x.clone()
    steps = torch.arange(x.shape[1])[None, :]
    real = steps < lengths[:, None]
    for _ in range(training.time_masks):
        width = torch.randint(0, training.time_mask_frames + 1, (x.shape[0], 1))
        start = (torch.rand(x.shape[0], 1) * (lengths[:, None] - width).clamp(min=1)).long()
        x[(steps >= start) & (steps < start + width)] = 0.0
    if training.feature_noise > 0:
        x = x + training.feature_noise * torch.randn_like(x) * real.unsqueeze(-1)
    return x


def normalizer_for(
    model: SpeechEmotionRecognizer, sequences: Sequence[np.ndarray], speakers: Sequence[str] | None
) -> FeatureNormalizer:
    """The model's normaliser, adapted to ``speakers`` it has no statistics for."""
    normalizer = model.normalizer
    if normalizer is None:
        raise ValueError("the model has no fitted normaliser")
    return normalizer.covering(sequences, speakers)


def evaluate_ser(
    model: SpeechEmotionRecognizer,
    sequences: Sequence[np.ndarray],
    labels: Sequence[int],
    speakers: Sequence[str] | None = None,
) -> ClassificationReport:
    """WA, UA, macro-F1, confusion; unseen speakers are normalised with their own clips."""
    return classification_report(
        np.asarray(labels),
        predict_frames(model, sequences, speakers).argmax(axis=1),
        model.labels,
    )


def predict_frames(
    model: SpeechEmotionRecognizer,
    sequences: Sequence[np.ndarray],
    speakers: Sequence[str] | None = None,
) -> np.ndarray:
    """Posteriors for frame sequences, adapting the normaliser to unseen speakers first."""
    trained = model.normalizer
    model.normalizer = normalizer_for(model, sequences, speakers)
    try:
        return model.probabilities_from_frames(sequences, speakers)
    finally:
        model.normalizer = trained


def train_ser(
    model: SpeechEmotionRecognizer,
    sequences: Sequence[np.ndarray],
    labels: Sequence[int],
    training: SERTrainingConfig,
    *,
    speakers: Sequence[str] | None = None,
    val_sequences: Sequence[np.ndarray] | None = None,
    val_labels: Sequence[int] | None = None,
    val_speakers: Sequence[str] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Fit the normaliser and train ``model`` in place on unpadded frame sequences."""
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(sequences):
        raise ValueError(f"{len(sequences)} sequences but {len(y)} labels")
    n_classes = len(model.labels)
    if len(y) == 0 or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class indices in 0..{n_classes - 1}")
    mode = model.config.normalization
    if mode == "speaker" and speakers is None:
        raise ValueError("normalization='speaker' needs the speaker of every training clip")
    model.normalizer = FeatureNormalizer.fit(
        list(sequences), mode, [str(s) for s in speakers] if speakers is not None else None
    )
    device = resolve_device(training.device)
    x, lengths = model.batch(list(sequences), speakers)
    weights = training.class_weight_vector(y, n_classes)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32)).to(device)
    model.net.to(device)
    optimizer = torch.optim.Adam(model.net.parameters(), lr=training.learning_rate)
    target = torch.from_numpy(y)

    def loss_of_batch(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(batch)
        batch_lengths = lengths[index]
        frames = augment(x[index], batch_lengths, training)  # on the CPU: same draws anywhere
        logits = model.net(frames.to(device), batch_lengths.to(device))
        loss = loss_fn(logits, target[index].to(device))
        return loss, loss

    validate = val_sequences is not None and val_labels is not None

    last: dict[str, ClassificationReport] = {}

    def evaluate() -> dict[str, float]:
        report = last["report"] = evaluate_ser(model, val_sequences, val_labels, val_speakers)
        return {"accuracy": report.accuracy, "ua": report.ua, "macro_f1": report.macro_f1}

    key = json.dumps(
        {"model": asdict(model.config), "training": key_settings(training), "n": len(y)},
        sort_keys=True,
        default=list,
    )
    try:
        result = run_epochs(
            model.net,
            len(y),
            loss_of_batch,
            optimizer,
            training.loop_settings("training SER"),
            evaluate=evaluate if validate else None,
            checkpoint_dir=checkpoint_dir,
            key=key,
            progress=progress,
        )
    finally:
        model.net.to("cpu")  # the model is saved and used on the CPU
    if validate:
        # the last epoch's report, unless a better earlier epoch was restored
        restored = result.best_epoch not in (None, len(result.history["train_loss"]))
        restored = restored or "report" not in last  # resumed with no epoch left to run
        result.validation = (
            evaluate_ser(model, val_sequences, val_labels, val_speakers)
            if restored
            else last["report"]
        )
    return result
