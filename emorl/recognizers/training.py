"""The epoch loop every emorl recognizer trains with.

Batches are drawn in an order fixed by ``(seed, epoch)``; the trainable parameters,
optimizer state, torch RNG state and history are checkpointed atomically every few
steps and at each epoch's end, so a run resumed from its checkpoint continues exactly
where it stopped, and two runs with one seed agree. Checkpoints are read with
``torch.load(weights_only=True)``. With ``select`` set (e.g. ``"val_ua"``), the epoch
with the best validation score is kept (early stopping with ``patience``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from emorl.artifacts import atomic_write
from emorl.progress import training_progress

if TYPE_CHECKING:
    from emorl.evaluation import ClassificationReport

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainingResult:
    """What a training run produced."""

    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    examples_per_second: float = 0.0
    best_epoch: int | None = None
    validation: ClassificationReport | None = None
    resumed: dict[str, Any] | None = None

    def resumed_note(self) -> str | None:
        """One line saying where a resumed run took over, or None for a fresh run."""
        if not self.resumed:
            return None
        r = self.resumed
        return (
            f"resumed from checkpoint at epoch {r['epoch']} step {r['step']} "
            f"({r['seconds_before']:.1f} s of training before this run)"
        )


@dataclass
class TrainingConfig:
    """How a recognizer is trained; each recognizer's subclass sets its own defaults.

    ``select`` (e.g. ``"val_ua"``) keeps the best validation epoch, ``patience`` stops
    after that many epochs without improvement, ``max_grad_norm`` clips gradients.
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    class_weights: str = "balanced"
    checkpoint_every: int = 0
    select: str | None = None
    patience: int | None = None
    max_grad_norm: float | None = None
    lr_schedule: str = "constant"
    warmup: float = 0.0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        check_device_name(self.device)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup is a share of the steps in [0, 1), got {self.warmup}")
        if self.class_weights not in ("balanced", "none"):
            raise ValueError(
                f"class_weights must be 'balanced' or 'none', got {self.class_weights!r}"
            )

    def loop_settings(self, description: str) -> LoopSettings:
        return LoopSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            checkpoint_every=self.checkpoint_every,
            select=self.select,
            patience=self.patience,
            max_grad_norm=self.max_grad_norm,
            lr_schedule=self.lr_schedule,
            warmup=self.warmup,
            description=description,
        )

    def class_weight_vector(self, labels: np.ndarray, n_classes: int) -> np.ndarray:
        """Cross-entropy class weights for ``labels`` under this config."""
        if self.class_weights == "none":
            return np.ones(n_classes)
        return balanced_class_weights(labels, n_classes)


DEVICES = ("cpu", "cuda")
#: ``constant``: the learning rate throughout; ``linear``: linear warm-up over the first
#: ``warmup`` share of the steps, then linear decay to zero at the last step.
LR_SCHEDULES = ("constant", "linear")


def check_device_name(name: str) -> None:
    """``cpu``, ``cuda`` or ``cuda:N``; anything else is a ``ValueError``."""
    base, _, index = str(name).partition(":")
    if base not in DEVICES or (index and not index.isdigit()) or (index and base != "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")


def resolve_device(name: str = "cpu") -> torch.device:
    """The torch device ``name`` asks for; ``ValueError`` when CUDA is asked but unavailable.

    CPU is the default; CUDA is used only when asked for (``--device cuda``).
    """
    check_device_name(name)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} was asked for, but CUDA is not available "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); "
                "use --device cpu"
            )
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present"
            )
    return torch.device(name)


def key_settings(training: TrainingConfig) -> dict[str, Any]:
    """The training settings that identify a run for resuming (the device does not)."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(training).items() if k != "device"}


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (k * count_c)``; a class absent from training gets weight 0."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.zeros(n_classes)
    present = counts > 0
    weights[present] = len(labels) / (present.sum() * counts[present])
    return weights


@dataclass
class LoopSettings:
    """How the loop runs (the model-specific parts come as callables)."""

    epochs: int
    batch_size: int
    seed: int
    checkpoint_every: int = 200
    select: str | None = None
    patience: int | None = None
    max_grad_norm: float | None = None
    lr_schedule: str = "constant"
    warmup: float = 0.0
    description: str = "training"


def lr_factor(step: int, total: int, schedule: str, warmup: float) -> float:
    """The learning-rate multiplier at optimiser step ``step`` of ``total``."""
    if schedule == "constant":
        return 1.0
    warm = int(round(warmup * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def trainable_names(net: nn.Module) -> list[str]:
    """Names of the parameters training changes."""
    return [name for name, param in net.named_parameters() if param.requires_grad]


def _snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    named = dict(net.named_parameters())
    return {name: named[name].detach().clone() for name in trainable_names(net)}


def _restore(net: nn.Module, params: Mapping[str, torch.Tensor]) -> None:
    named = dict(net.named_parameters())
    with torch.no_grad():
        for name, tensor in params.items():
            named[name].copy_(tensor)


def load_checkpoint(path: Path, key: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it belongs to the run ``key`` describes."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, refused types: all a damaged file
        from emorl.artifacts import ModelFolderError

        # torch's own message suggests weights_only=False: never pass that advice on
        raise ModelFolderError(
            f"{path}: unreadable training checkpoint ({size} bytes, {type(err).__name__}); "
            "it is corrupt or truncated: delete it to train from the start"
        ) from None
    if not isinstance(state, dict) or not {"params", "optimizer", "epoch", "step"} <= set(state):
        from emorl.artifacts import ModelFolderError

        raise ModelFolderError(
            f"{path}: not an emorl training checkpoint; delete it to train from the start"
        )
    if state.get("key") != key:
        raise ValueError(
            f"{path} belongs to a run with other settings or data; "
            "use a new output folder or delete the checkpoint to start over"
        )
    return state


def run_epochs(
    net: nn.Module,
    n_examples: int,
    loss_of_batch: Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    settings: LoopSettings,
    *,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
    checkpoint_dir: str | Path | None = None,
    key: str = "",
    progress: bool = True,
) -> TrainingResult:
    """Train ``net`` in place.

    ``loss_of_batch(indices)`` returns ``(loss to minimise, loss to report)``;
    ``evaluate()`` returns validation metrics, recorded each epoch as ``val_<name>``.
    """
    if settings.select and evaluate is None:
        raise ValueError(f"select={settings.select!r} needs validation data")
    steps_per_epoch = -(-n_examples // settings.batch_size)
    total_steps = settings.epochs * steps_per_epoch
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def set_lr(global_step: int) -> None:
        factor = lr_factor(global_step, total_steps, settings.lr_schedule, settings.warmup)
        for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = base * factor

    ckpt = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir else None
    history: dict[str, list[float]] = {"train_loss": []}
    best: dict[str, Any] = {"score": -math.inf, "epoch": None, "params": None}
    start_epoch, start_step, running = 0, 0, []
    seconds_before, resumed = 0.0, None
    torch.manual_seed(settings.seed)
    state = load_checkpoint(ckpt, key) if ckpt else None
    if state is not None:
        _restore(net, state["params"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start_epoch, start_step = state["epoch"], state["step"]
        saved = json.loads(state["history"])
        running = saved.pop("_running")
        best.update(score=saved.pop("_best_score"), epoch=saved.pop("_best_epoch"))
        best["params"] = state.get("best_params") or None
        seconds_before = float(saved.pop("_seconds", 0.0))
        history = saved
        resumed = {"epoch": start_epoch, "step": start_step, "seconds_before": seconds_before}

    def checkpoint(epoch: int, step: int) -> None:
        if ckpt is None:
            return
        extra = {
            "_running": running,
            "_best_score": best["score"],
            "_best_epoch": best["epoch"],
            "_seconds": seconds_before + time.perf_counter() - begun,
        }
        atomic_write(
            ckpt,
            lambda tmp: torch.save(
                {
                    "key": key,
                    "params": _snapshot(net),
                    "best_params": best["params"] or {},
                    "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(),
                    "epoch": epoch,
                    "step": step,
                    "history": json.dumps({**history, **extra}),
                },
                tmp,
            ),
        )

    begun, seen = time.perf_counter(), 0
    with training_progress(progress) as bar:
        task = bar.add_task(
            settings.description,
            total=settings.epochs * steps_per_epoch,
            completed=start_epoch * steps_per_epoch + start_step,
            loss=float("nan"),
        )
        for epoch in range(start_epoch, settings.epochs):
            order = np.random.default_rng([settings.seed, epoch]).permutation(n_examples)
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                running = []
            net.train()
            for step in range(first, steps_per_epoch):
                batch = order[step * settings.batch_size : (step + 1) * settings.batch_size]
                set_lr(epoch * steps_per_epoch + step)
                loss, reported = loss_of_batch(batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(net.parameters(), settings.max_grad_norm)
                optimizer.step()
                running.append(float(reported.detach()))
                seen += len(batch)
                bar.update(task, advance=1, loss=float(np.mean(running[-50:])))
                if settings.checkpoint_every and (step + 1) % settings.checkpoint_every == 0:
                    checkpoint(epoch, step + 1)
            history["train_loss"].append(float(np.mean(running)))
            net.eval()
            if evaluate is not None:
                for name, value in evaluate().items():
                    history.setdefault(f"val_{name}", []).append(float(value))
            if settings.select:
                score = history[settings.select][-1]
                if score > best["score"]:
                    best.update(score=score, epoch=epoch + 1, params=_snapshot(net))
            running = []
            checkpoint(epoch + 1, 0)
            stalled = epoch + 1 - best["epoch"] if best["epoch"] is not None else 0
            if settings.patience is not None and stalled >= settings.patience:
                bar.update(task, completed=settings.epochs * steps_per_epoch)
                break
    net.eval()
    if settings.select and best["params"] is not None:
        _restore(net, best["params"])
    seconds = time.perf_counter() - begun
    return TrainingResult(
        history=history,
        seconds=seconds_before + seconds,  # a resumed run's true time: all its sessions
        examples_per_second=seen / seconds if seconds > 0 else 0.0,
        best_epoch=best["epoch"],
        resumed=resumed,
    )
