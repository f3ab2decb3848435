"""Classifier heads over Whisper encoder states (the Whisper SER's last stage).

Two heads, each given per-speaker z-normalised inputs by :class:`WhisperSER`:

* :class:`LogRegHead` (``"logreg"``): the states' mean and standard deviation over time
  (``2 * d_model``) -> class-balanced scikit-learn ``LogisticRegression``; ``C`` chosen by a
  speaker-exclusive inner cross-validation on the training speakers (best UA) or fixed.
  Penultimate features: the normalised pooled vector.
* :class:`AttentionHead` (``"attention"``): additive attention over the frame states
  (``v . tanh(W h_t)``, softmax over the clip's frames) -> attended vector -> dense (ReLU,
  dropout) -> softmax; a small torch module trained with class-weighted cross-entropy and
  Adam for a fixed number of epochs, deterministic for a seed. Penultimate features: the
  dense layer's output.

Both store their weights as float32 arrays (safetensors in the model folder) and their
settings as JSON; nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "C_GRID",
    "HEAD_KINDS",
    "AttentionConfig",
    "AttentionHead",
    "LogRegHead",
    "make_head",
    "pool_states",
    "softmax",
]

#: Inverse regularisation strengths the logistic regression tries on the training speakers.
C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
HEAD_KINDS: tuple[str, ...] = ("logreg", "attention")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, K)`` logits (float64 inside)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def pool_states(states: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over time of ``(T, d)`` states: ``(2 * d,)`` float32."""
    values = np.asarray(states, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"states must be a non-empty (T, d) array, got {values.shape}")
    return np.concatenate([values.mean(axis=0), values.std(axis=0)]).astype(np.float32)


# --------------------------------------------------------------------------- logistic regression


def fit_logreg(
    x: np.ndarray, y: np.ndarray, c: float, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced logistic regression; coefficients ``(K, F)``, intercepts ``(K,)``."""
    from sklearn.linear_model import LogisticRegression

    if np.unique(y).size < 2:
        raise ValueError("the training labels hold a single class")
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    lr.fit(x, y)
    coef = np.asarray(lr.coef_, dtype=np.float64)
    intercept = np.asarray(lr.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: softmax of (-z/2, z/2) is the sigmoid of z
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    full_coef = np.zeros((n_classes, x.shape[1]))
    full_int = np.full(n_classes, -1e4)  # classes absent from training are never predicted
    full_coef[lr.classes_] = coef
    full_int[lr.classes_] = intercept
    return full_coef.astype(np.float32), full_int.astype(np.float32)


def choose_c(
    x: np.ndarray, y: np.ndarray, speakers: Sequence[str], grid: Sequence[float], n_classes: int
) -> tuple[float, dict[str, float]]:
    """The ``C`` of ``grid`` with the best mean UA over speaker-exclusive inner folds."""
    from emorl.evaluation import classification_report, group_kfold

    n_speakers = len(set(speakers))
    if len(grid) == 1 or n_speakers < 2:
        return float(grid[0]), {}
    k = min(4, n_speakers)
    folds = group_kfold(list(speakers), k, seed=0, stratify=y)
    labels = [str(i) for i in range(n_classes)]
    scores: dict[str, float] = {}
    for c in grid:
        uas = []
        for train, test in folds:
            if np.unique(y[train]).size < 2:
                continue
            coef, intercept = fit_logreg(x[train], y[train], c, n_classes)
            pred = np.argmax(x[test] @ coef.T + intercept, axis=1)
            uas.append(classification_report(y[test], pred, labels).ua)
        scores[repr(float(c))] = float(np.mean(uas)) if uas else float("nan")
    best = max(grid, key=lambda c: (np.nan_to_num(scores[repr(float(c))], nan=-1.0), -c))
    return float(best), scores


class LogRegHead:
    """Mean+std pooled states -> class-balanced logistic regression (``C`` fixed or searched)."""

    kind: ClassVar[str] = "logreg"
    frame_level: ClassVar[bool] = False

    def __init__(self, C: float | None = None, c_grid: Sequence[float] = C_GRID) -> None:  # noqa: N803
        if C is not None and not C > 0:
            raise ValueError(f"C must be > 0, got {C}")
        if not c_grid or any(not c > 0 for c in c_grid):
            raise ValueError(f"c_grid must hold positive values, got {tuple(c_grid)}")
        self.C, self.c_grid = C, tuple(float(c) for c in c_grid)
        self.chosen_c: float | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None

    @staticmethod
    def represent(states: np.ndarray) -> np.ndarray:
        """What this head reads of a clip (before normalisation): the pooled vector."""
        return pool_states(states)

    @property
    def fitted(self) -> bool:
        return self.coef is not None

    @property
    def n_classes(self) -> int:
        if self.coef is None:
            raise RuntimeError("the head is not fitted")
        return int(self.coef.shape[0])

    @property
    def feature_size(self) -> int:
        if self.coef is None:
            raise RuntimeError("the head is not fitted")
        return int(self.coef.shape[1])

    def fit(
        self,
        inputs: Sequence[np.ndarray],
        y: np.ndarray,
        speakers: Sequence[str],
        n_classes: int,
        *,
        seed: int = 0,
    ) -> dict[str, Any]:
        del seed  # the solver is deterministic
        x = np.stack([np.asarray(v, dtype=np.float32) for v in inputs])
        metrics: dict[str, Any] = {}
        if self.C is None:
            self.chosen_c, metrics["inner_cv_ua"] = choose_c(x, y, speakers, self.c_grid, n_classes)
        else:
            self.chosen_c = float(self.C)
        self.coef, self.intercept = fit_logreg(x, y, self.chosen_c, n_classes)
        metrics["C"] = self.chosen_c
        return metrics

    def _matrix(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("the head is not fitted")
        x = np.stack([np.asarray(v, dtype=np.float64) for v in inputs])
        if x.ndim != 2 or x.shape[1] != self.coef.shape[1]:
            raise ValueError(
                f"vectors must be (n, {self.coef.shape[1]}), got {x.shape} (another model?)"
            )
        return x

    def features(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Penultimate features: the normalised pooled vectors themselves."""
        return self._matrix(inputs).astype(np.float32)

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        assert self.coef is not None and self.intercept is not None
        x = self._matrix(inputs)
        return x @ self.coef.T.astype(np.float64) + self.intercept.astype(np.float64)

    def settings(self) -> dict[str, Any]:
        """What ``config.json`` records of the head (``from_arrays`` reads it back)."""
        return {"kind": self.kind, "C": self.chosen_c, "c_grid": list(self.c_grid)}

    def to_arrays(self) -> dict[str, np.ndarray]:
        if self.coef is None or self.intercept is None:
            raise RuntimeError("the head is not fitted")
        return {
            "lr.coef": np.ascontiguousarray(self.coef, dtype=np.float32),
            "lr.intercept": np.ascontiguousarray(self.intercept, dtype=np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], config: dict[str, Any]) -> LogRegHead:
        head = cls(C=config.get("C"), c_grid=config.get("c_grid", C_GRID))
        head.chosen_c = config.get("C")
        head.coef = np.asarray(arrays["lr.coef"], dtype=np.float32)
        head.intercept = np.asarray(arrays["lr.intercept"], dtype=np.float32)
        return head


# --------------------------------------------------------------------------- attention


@dataclass(frozen=True)
class AttentionConfig:
    """Settings of :class:`AttentionHead` (architecture and its fixed training recipe)."""

    attention_dim: int = 128
    hidden_size: int = 128
    dropout: float = 0.3
    input_dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if min(self.attention_dim, self.hidden_size, self.epochs, self.batch_size) < 1:
            raise ValueError("attention_dim, hidden_size, epochs and batch_size must be >= 1")
        for name in ("dropout", "input_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise ValueError("learning_rate must be > 0 and weight_decay >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttentionConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown attention head setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


def _attention_module(d_model: int, n_classes: int, config: AttentionConfig) -> Any:
    import torch
    from torch import nn

    class AttentionPooling(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.input_dropout = nn.Dropout(config.input_dropout)
            self.score = nn.Linear(d_model, config.attention_dim)
            self.context = nn.Linear(config.attention_dim, 1, bias=False)
            self.dense = nn.Linear(d_model, config.hidden_size)
            self.dropout = nn.Dropout(config.dropout)
            self.out = nn.Linear(config.hidden_size, n_classes)

        def hidden(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            x = self.input_dropout(x)
            scores = self.context(torch.tanh(self.score(x))).squeeze(-1)
            scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=1)
            attended = torch.einsum("bt,btd->bd", weights, x)
            return torch.relu(self.dense(attended))

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.out(self.dropout(self.hidden(x, mask)))

    return AttentionPooling()


def _pad(inputs: Sequence[np.ndarray]) -> tuple[Any, Any]:
    import torch

    lengths = [int(np.asarray(s).shape[0]) for s in inputs]
    if min(lengths) < 1:
        raise ValueError("every clip needs at least one encoder state")
    d = int(np.asarray(inputs[0]).shape[1])
    x = np.zeros((len(inputs), max(lengths), d), dtype=np.float32)
    for i, s in enumerate(inputs):
        x[i, : lengths[i]] = s
    mask = np.arange(max(lengths))[None, :] < np.asarray(lengths)[:, None]
    return torch.from_numpy(x), torch.from_numpy(mask)


class AttentionHead:
    """Additive attention over normalised frame states -> dense -> softmax (torch, CPU)."""

    kind: ClassVar[str] = "attention"
    frame_level: ClassVar[bool] = True

    def __init__(self, config: AttentionConfig | None = None) -> None:
        self.config = config or AttentionConfig()
        self.net: Any = None
        self.d_model: int | None = None
        self.n_classes: int | None = None

    @staticmethod
    def represent(states: np.ndarray) -> np.ndarray:
        """What this head reads of a clip (before normalisation): the frame states."""
        array = np.asarray(states, dtype=np.float32)
        if array.ndim != 2 or array.shape[0] == 0:
            raise ValueError(f"states must be a non-empty (T, d) array, got {array.shape}")
        return array

    @property
    def fitted(self) -> bool:
        return self.net is not None

    @property
    def feature_size(self) -> int:
        return self.config.hidden_size

    def _build(self, d_model: int, n_classes: int) -> None:
        self.d_model, self.n_classes = d_model, n_classes
        self.net = _attention_module(d_model, n_classes, self.config)

    def fit(
        self,
        inputs: Sequence[np.ndarray],
        y: np.ndarray,
        speakers: Sequence[str],
        n_classes: int,
        *,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Train for the fixed ``epochs``; class weights balance the training labels."""
        import torch

        from emorl.recognizers.threads import torch_threads

        del speakers
        if np.unique(y).size < 2:
            raise ValueError("the training labels hold a single class")
        torch.manual_seed(seed)
        d_model = int(np.asarray(inputs[0]).shape[1])
        self._build(d_model, n_classes)
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
        optimiser = torch.optim.Adam(
            self.net.parameters(),
            lr=self.config.learning_rate,
            weight_decay=self.config.weight_decay,
        )
        rng = np.random.default_rng(seed)
        targets = torch.from_numpy(np.asarray(y, dtype=np.int64))
        with torch_threads(1):  # small batches: a second thread costs more than it saves
            losses = self._train(inputs, targets, loss_fn, optimiser, rng)
        return {"epochs": self.config.epochs, "train_loss": losses}

    def _train(
        self,
        inputs: Sequence[np.ndarray],
        targets: Any,
        loss_fn: Any,
        optimiser: Any,
        rng: np.random.Generator,
    ) -> list[float]:
        losses = []
        self.net.train()
        for _ in range(self.config.epochs):
            order = rng.permutation(len(inputs))
            total = 0.0
            for start in range(0, len(order), self.config.batch_size):
                batch = order[start : start + self.config.batch_size]
                x, mask = _pad([inputs[i] for i in batch])
                loss = loss_fn(self.net(x, mask), targets[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            losses.append(round(total / len(order), 5))
        self.net.eval()
        return losses

    def _run(self, inputs: Sequence[np.ndarray], what: str) -> np.ndarray:
        import torch

        if self.net is None:
            raise RuntimeError("the head is not fitted")
        if not inputs:
            return np.zeros((0, self.feature_size if what == "hidden" else self.n_classes or 0))
        for s in inputs:
            array = np.asarray(s)
            if array.ndim != 2 or array.shape[1] != self.d_model:
                raise ValueError(
                    f"frame states must be (T, {self.d_model}), got {array.shape} (another model?)"
                )
        from emorl.recognizers.threads import torch_threads

        out = []
        self.net.eval()
        with torch_threads(1), torch.inference_mode():
            for start in range(0, len(inputs), 64):
                x, mask = _pad(list(inputs[start : start + 64]))
                hidden = self.net.hidden(x, mask)
                out.append((hidden if what == "hidden" else self.net.out(hidden)).numpy())
        return np.concatenate(out).astype(np.float64)

    def features(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Penultimate features: the dense layer's ReLU output ``(n, hidden_size)``."""
        return self._run(inputs, "hidden").astype(np.float32)

    def logits(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._run(inputs, "logits")

    def settings(self) -> dict[str, Any]:
        """What ``config.json`` records of the head (``from_arrays`` reads it back)."""
        return {"kind": self.kind, **self.config.to_dict(), "d_model": self.d_model}

    def to_arrays(self) -> dict[str, np.ndarray]:
        if self.net is None:
            raise RuntimeError("the head is not fitted")
        return {
            f"attention.{name}": np.ascontiguousarray(p.detach().numpy(), dtype=np.float32)
            for name, p in self.net.state_dict().items()
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], config: dict[str, Any]) -> AttentionHead:
        import torch

        settings = {k: v for k, v in config.items() if k not in ("kind", "d_model")}
        head = cls(AttentionConfig.from_dict(settings))
        out_bias = np.asarray(arrays["attention.out.bias"])
        head._build(int(config["d_model"]), int(out_bias.shape[0]))
        state = {
            name[len("attention.") :]: torch.from_numpy(np.array(v, dtype=np.float32))
            for name, v in arrays.items()
            if name.startswith("attention.")
        }
        head.net.load_state_dict(state)
        head.net.eval()
        return head


def make_head(
    kind: str,
    *,
    C: float | None = None,  # noqa: N803
    c_grid: Sequence[float] = C_GRID,
    attention: AttentionConfig | None = None,
) -> LogRegHead | AttentionHead:
    """A fresh head of ``kind`` (``"logreg"`` or ``"attention"``)."""
    if kind == "logreg":
        return LogRegHead(C=C, c_grid=c_grid)
    if kind == "attention":
        return AttentionHead(attention)
    raise ValueError(f"head must be one of {HEAD_KINDS}, got {kind!r}")
