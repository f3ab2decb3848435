"""Fine-tuning a text emotion recognizer, with atomic checkpoints and resume.

The paper's recipe: weighted cross-entropy, Adam at 3e-5, a fixed number of epochs,
L2 on the head's fully connected layer. Batches are drawn in an order fixed by
``(seed, epoch)``, so a run resumed from its checkpoint continues exactly where it
stopped and two runs with one seed agree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emorl.artifacts import atomic_write
from emorl.evaluation import ClassificationReport, classification_report
from emorl.progress import training_progress
from emorl.recognizers.ter import TextEmotionRecognizer, trained_parameter_names
from emorl.recognizers.text_input import clean_texts

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TERTrainingConfig:
    """How a TER is fine-tuned (the paper's settings by default, 7 epochs on IEMOCAP)."""

    epochs: int = 7
    batch_size: int = 32
    learning_rate: float = 3e-5
    seed: int = 0
    class_weights: str = "balanced"
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.class_weights not in ("balanced", "none"):
            raise ValueError(
                f"class_weights must be 'balanced' or 'none', got {self.class_weights!r}"
            )


@dataclass
class TrainingResult:
    """What a training run produced: per-epoch history and the final validation report."""

    history: dict[str, list[float]] = field(default_factory=dict)
    validation: ClassificationReport | None = None
    seconds: float = 0.0
    examples_per_second: float = 0.0


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (k * count_c)``; a class absent from training gets weight 0 and is reported."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


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
        {"model": asdict(model.config), "training": asdict(training), "n": n},
        sort_keys=True,
        default=list,
    )


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _load_checkpoint(path: Path, key: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("key") != key:
        raise ValueError(
            f"{path} belongs to a run with other settings or data; "
            "use a new output folder or delete the checkpoint to start over"
        )
    return state


def evaluate_ter(
    model: TextEmotionRecognizer, texts: Sequence[str], labels: Sequence[int], batch_size: int = 64
) -> ClassificationReport:
    """WA, UA, macro-F1 and confusion of ``model`` on labelled texts."""
    probs = model.probabilities(list(texts), batch_size=batch_size)
    return classification_report(np.asarray(labels), probs.argmax(axis=1), model.labels)


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
    """Fine-tune ``model`` in place; resume from ``checkpoint_dir`` when it holds a checkpoint."""
    texts = clean_texts(list(texts), model.config.max_length)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(y)} labels")
    n_classes = len(model.labels)
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be class indices in 0..{n_classes - 1}")
    tokens = model.tokenize(texts).ids
    net = model.net
    weights = (
        balanced_class_weights(y, n_classes)
        if training.class_weights == "balanced"
        else np.ones(n_classes)
    )
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=training.learning_rate)
    steps_per_epoch = -(-len(y) // training.batch_size)
    key = _config_key(model, training, len(y))
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    # ``train_loss`` is the weighted cross-entropy; the head's L2 term is left out of it.
    history: dict[str, list[float]] = {"train_loss": []}
    start_epoch, start_step = 0, 0
    torch.manual_seed(training.seed)
    state = _load_checkpoint(ckpt_path, key) if ckpt_path else None
    if state is not None:
        named = dict(net.named_parameters())
        with torch.no_grad():
            for name, tensor in state["params"].items():
                named[name].copy_(tensor)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start_epoch, start_step = state["epoch"], state["step"]
        history = json.loads(state["history"])

    def checkpoint(epoch: int, step: int, running: list[float]) -> None:
        if ckpt_path is None:
            return
        named = dict(net.named_parameters())
        _save_checkpoint(
            ckpt_path,
            {
                "key": key,
                "params": {n: named[n].detach().clone() for n in trained_parameter_names(net)},
                "optimizer": optimizer.state_dict(),
                "rng": torch.get_rng_state(),
                "epoch": epoch,
                "step": step,
                "history": json.dumps({**history, "_running": running}),
            },
        )

    begun = time.perf_counter()
    seen = 0
    running: list[float] = history.pop("_running", []) if state is not None else []
    with training_progress(progress) as bar:
        task = bar.add_task(
            "fine-tuning TER",
            total=training.epochs * steps_per_epoch,
            completed=start_epoch * steps_per_epoch + start_step,
            loss=float("nan"),
        )
        for epoch in range(start_epoch, training.epochs):
            order = np.random.default_rng([training.seed, epoch]).permutation(len(y))
            net.train()
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                running = []
            for step in range(first, steps_per_epoch):
                batch = order[step * training.batch_size : (step + 1) * training.batch_size]
                input_ids, mask = model.collate([tokens[i] for i in batch])
                logits = net(input_ids, mask)
                cross_entropy = loss_fn(logits, torch.from_numpy(y[batch]))
                loss = cross_entropy + model.config.l2 * net.l2_penalty()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                running.append(float(cross_entropy.detach()))
                seen += len(batch)
                bar.update(task, advance=1, loss=float(np.mean(running[-50:])))
                if training.checkpoint_every and (step + 1) % training.checkpoint_every == 0:
                    checkpoint(epoch, step + 1, running)
            history["train_loss"].append(float(np.mean(running)))
            if val_texts is not None and val_labels is not None:
                report = evaluate_ter(model, val_texts, val_labels)
                for metric in ("accuracy", "ua", "macro_f1"):
                    history.setdefault(f"val_{metric}", []).append(report.to_dict()[metric])
            checkpoint(epoch + 1, 0, [])
    net.eval()
    seconds = time.perf_counter() - begun
    result = TrainingResult(
        history=history, seconds=seconds, examples_per_second=seen / seconds if seconds > 0 else 0.0
    )
    if val_texts is not None and val_labels is not None:
        result.validation = evaluate_ter(model, val_texts, val_labels)
    return result
