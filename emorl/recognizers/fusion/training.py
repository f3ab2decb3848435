"""Training the fusion block on frozen features, and optional joint fine-tuning.

The paper's recipe: the sub-models stay frozen and only the block is trained, for a
fixed 7 epochs, with class-weighted cross-entropy and Adam. ``finetune_jointly`` then
unfreezes the TER (its trainable layers) and the SER and trains everything end to end
(the paper found this worse; the experiment runner measures it).
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
from emorl.recognizers.fusion.features import ser_frame_states
from emorl.recognizers.fusion.model import FusionBlock, FusionInputs
from emorl.recognizers.speech.model import SpeechEmotionRecognizer
from emorl.recognizers.speech.training import normalizer_for
from emorl.recognizers.text.model import TextEmotionRecognizer
from emorl.recognizers.training import (
    TrainingConfig,
    TrainingResult,
    key_settings,
    resolve_device,
    run_epochs,
)


@dataclass
class FusionTrainingConfig(TrainingConfig):
    """The paper's fixed 7 epochs; Adam 1e-3, batch 32, L2 weight decay 1e-4."""

    epochs: int = 7
    weight_decay: float = 1e-4


@dataclass
class JointTrainingConfig(TrainingConfig):
    """End-to-end fine-tuning after the fusion block: 1 epoch, small learning rates."""

    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 1e-4
    text_learning_rate: float = 3e-5
    max_grad_norm: float | None = 5.0


def _check_labels(y: np.ndarray, n: int, n_classes: int) -> None:
    if len(y) != n:
        raise ValueError(f"{n} examples but {len(y)} labels")
    if len(y) == 0 or y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class indices in 0..{n_classes - 1}")


def evaluate_fusion(
    block: FusionBlock, inputs: FusionInputs, labels: Sequence[int]
) -> ClassificationReport:
    """WA, UA, macro-F1 and confusion of the block's predictions."""
    pred = block.logits(inputs).argmax(axis=1)
    return classification_report(np.asarray(labels), pred, block.labels)


def train_fusion(
    block: FusionBlock,
    inputs: FusionInputs,
    labels: Sequence[int],
    training: FusionTrainingConfig,
    *,
    val_inputs: FusionInputs | None = None,
    val_labels: Sequence[int] | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Train ``block`` in place on frozen sub-model outputs."""
    y = np.asarray(labels, dtype=np.int64)
    n_classes = len(block.labels)
    _check_labels(y, len(inputs), n_classes)
    if inputs.text.shape[1] != block.config.text_size:
        raise ValueError(
            f"text features have width {inputs.text.shape[1]}, the block expects "
            f"{block.config.text_size}"
        )
    if inputs.speech.shape[1] != block.config.speech_size:
        raise ValueError(
            f"speech features have width {inputs.speech.shape[1]}, the block expects "
            f"{block.config.speech_size}"
        )
    if block.needs_states and inputs.states is None:
        raise ValueError("the attention block needs SER frame states (speech_outputs states=True)")
    if block.needs_probabilities and (inputs.text_probs is None or inputs.speech_probs is None):
        raise ValueError(
            "this block reads the branch posteriors (reliability "
            f"{list(block.config.reliability)}): give fusion_inputs text_probs and speech_probs"
        )
    device = resolve_device(training.device)
    weights = torch.tensor(training.class_weight_vector(y, n_classes), dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weights).to(device)
    block.net.to(device)
    optimizer = torch.optim.Adam(
        block.net.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    target = torch.from_numpy(y)

    def loss_of_batch(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        logits = block.net(inputs.subset(batch).to(device))
        loss = loss_fn(logits, target[torch.from_numpy(batch)].to(device))
        return loss, loss

    validate = val_inputs is not None and val_labels is not None

    def evaluate() -> dict[str, float]:
        report = evaluate_fusion(block, val_inputs, val_labels)
        return {"accuracy": report.accuracy, "ua": report.ua}

    key = json.dumps(
        {"model": asdict(block.config), "training": key_settings(training), "n": len(y)},
        sort_keys=True,
        default=list,
    )
    try:
        result = run_epochs(
            block.net,
            len(y),
            loss_of_batch,
            optimizer,
            training.loop_settings(f"training fusion ({block.config.kind})"),
            evaluate=evaluate if validate else None,
            checkpoint_dir=checkpoint_dir,
            key=key,
            progress=progress,
        )
    finally:
        block.net.to("cpu")  # the block is saved and used on the CPU
    if validate:
        result.validation = evaluate_fusion(block, val_inputs, val_labels)
    return result


class JointNet(nn.Module):
    """TER, SER and fusion block as one differentiable network."""

    def __init__(
        self, ter: TextEmotionRecognizer, ser: SpeechEmotionRecognizer, block: FusionBlock
    ) -> None:
        super().__init__()
        self.ter, self.ser, self.block = ter.net, ser.net, block.net
        self._ser = ser
        self.needs_states = block.needs_states
        self.needs_probabilities = block.needs_probabilities

    def forward(
        self,
        input_ids: torch.Tensor,
        mask: torch.Tensor,
        frames: torch.Tensor,
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        text = self.ter.features(input_ids, mask)
        speech, states = ser_frame_states(self._ser, frames, lengths)
        probs = {}
        if self.needs_probabilities:
            probs = {
                "text_probs": torch.softmax(self.ter.classifier(text), dim=-1),
                "speech_probs": torch.softmax(self.ser.classifier(speech), dim=-1),
            }
        inputs = FusionInputs(text, speech, states if self.needs_states else None, lengths, **probs)
        return self.block(inputs)


def finetune_jointly(
    ter: TextEmotionRecognizer,
    ser: SpeechEmotionRecognizer,
    block: FusionBlock,
    texts: Sequence[str],
    sequences: Sequence[np.ndarray],
    speakers: Sequence[str],
    labels: Sequence[int],
    training: JointTrainingConfig,
    *,
    progress: bool = True,
) -> TrainingResult:
    """Fine-tune TER, SER and block together in place (all three are changed)."""
    y = np.asarray(labels, dtype=np.int64)
    _check_labels(y, len(texts), len(block.labels))
    if not len(texts) == len(sequences) == len(speakers):
        raise ValueError("texts, sequences and speakers must have one entry per example")
    tokens = ter.tokenize([str(t) for t in texts]).ids
    trained_norm = ser.normalizer
    ser.normalizer = normalizer_for(ser, sequences, speakers)
    x, lengths = ser.batch(list(sequences), list(speakers))
    ser.normalizer = trained_norm
    joint = JointNet(ter, ser, block)
    text_params = [p for p in ter.net.parameters() if p.requires_grad]
    other = [*ser.net.parameters(), *block.net.parameters()]
    optimizer = torch.optim.Adam(
        [
            {"params": text_params, "lr": training.text_learning_rate},
            {"params": other, "lr": training.learning_rate},
        ]
    )
    weights = training.class_weight_vector(y, len(block.labels))
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    target = torch.from_numpy(y)

    def loss_of_batch(batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = ter.collate([tokens[i] for i in batch])
        index = torch.from_numpy(batch)
        batch_lengths = lengths[index]
        frames = x[index, : int(batch_lengths.max())]
        loss = loss_fn(joint(ids, mask, frames, batch_lengths), target[index])
        return loss, loss

    result = run_epochs(
        joint,
        len(y),
        loss_of_batch,
        optimizer,
        training.loop_settings("joint fine-tuning"),
        progress=progress,
    )
    for module in (ter.net, ser.net, block.net):
        module.eval()
    return result
