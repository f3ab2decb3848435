"""The fusion block: IEmoNet's classifier over frozen text and speech features.

Two blocks read the penultimate outputs of a frozen TER and a frozen SER:

* ``feedforward`` (the paper's): concatenated features -> dense (ReLU, dropout) -> softmax.
* ``attention``: aligns the two feature sets. The projected text vector is the query of
  scaled dot-product attention over the SER's per-frame BiLSTM outputs (padding masked);
  the attended speech summary, the projected text vector and the projected SER vector
  are concatenated and classified as above.

On disk a block is ``config.json`` + ``model.safetensors``; the temperature that
calibrates its posteriors is stored in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from emorl import __version__
from emorl.artifacts import (
    WEIGHTS_NAME,
    ModelFolderError,
    atomic_write,
    check_head,
    check_labels,
    load_safetensors,
    model_type_fields,
    require_model_folder,
    write_json,
)
from emorl.emotions import FOUR_CLASS

MODEL_TYPE = "fusion"
FusionKind = Literal["feedforward", "attention"]


@dataclass
class FusionConfig:
    """Architecture of a fusion block; feature widths come from the sub-models."""

    labels: tuple[str, ...] = FOUR_CLASS
    kind: FusionKind = "feedforward"
    text_size: int = 768
    speech_size: int = 256
    state_size: int = 128
    hidden_size: int = 256
    attention_dim: int = 128
    dropout: float = 0.3

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if self.kind not in ("feedforward", "attention"):
            raise ValueError(f"kind must be 'feedforward' or 'attention', got {self.kind!r}")
        if min(self.text_size, self.speech_size, self.hidden_size, self.attention_dim) < 1:
            raise ValueError("feature and layer sizes must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusionConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fusion config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class FusionInputs:
    """Frozen sub-model outputs for a batch of utterances.

    ``text`` ``(n, text_size)`` and ``speech`` ``(n, speech_size)`` are the penultimate
    features; ``states`` ``(n, frames, state_size)`` with ``lengths`` are the SER's
    per-frame outputs, needed by the attention block only.
    """

    text: torch.Tensor
    speech: torch.Tensor
    states: torch.Tensor | None = None
    lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.text.shape[0])

    def to(self, device: torch.device | str) -> FusionInputs:
        """The same inputs on ``device``."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return FusionInputs(
            self.text.to(device), self.speech.to(device), move(self.states), move(self.lengths)
        )

    def subset(self, index: np.ndarray | torch.Tensor) -> FusionInputs:
        index = torch.as_tensor(index, dtype=torch.long)
        if self.states is None or self.lengths is None:
            return FusionInputs(self.text[index], self.speech[index])
        lengths = self.lengths[index]
        width = int(lengths.max()) if len(lengths) else 1
        return FusionInputs(
            self.text[index], self.speech[index], self.states[index, :width], lengths
        )


class FeedForwardFusion(nn.Module):
    """The paper's block: concatenation -> dense -> logits."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.hidden = nn.Linear(config.text_size + config.speech_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.labels))

    def forward(self, inputs: FusionInputs) -> torch.Tensor:
        joint = torch.cat([inputs.text, inputs.speech], dim=-1)
        return self.classifier(self.dropout(torch.relu(self.hidden(self.dropout(joint)))))


class AttentionFusion(nn.Module):
    """Text vector attending over the SER's frame outputs, then a dense block."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        d = config.attention_dim
        self.query = nn.Linear(config.text_size, d)
        self.key = nn.Linear(config.state_size, d)
        self.value = nn.Linear(config.state_size, d)
        self.speech = nn.Linear(config.speech_size, d)
        self.hidden = nn.Linear(3 * d, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.labels))
        self.scale = d**-0.5

    def attend(self, inputs: FusionInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Attended speech summary ``(n, d)`` and the attention weights ``(n, frames)``."""
        if inputs.states is None or inputs.lengths is None:
            raise ValueError("the attention fusion block needs the SER's frame states")
        query = self.query(self.dropout(inputs.text))
        steps = inputs.states.shape[1]
        mask = torch.arange(steps, device=inputs.lengths.device)[None, :] < inputs.lengths[:, None]
        scores = torch.einsum("nd,ntd->nt", query, self.key(inputs.states)) * self.scale
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.einsum("nt,ntd->nd", weights, self.value(inputs.states)), weights

    def forward(self, inputs: FusionInputs) -> torch.Tensor:
        attended, _ = self.attend(inputs)
        text = self.query(self.dropout(inputs.text))
        joint = torch.cat([text, self.speech(self.dropout(inputs.speech)), attended], dim=-1)
        return self.classifier(self.dropout(torch.relu(self.hidden(joint))))


def build_fusion_net(config: FusionConfig) -> nn.Module:
    """The network of ``config.kind``."""
    return FeedForwardFusion(config) if config.kind == "feedforward" else AttentionFusion(config)


class FusionBlock:
    """A trained fusion block with its calibration temperature."""

    def __init__(
        self,
        config: FusionConfig,
        net: nn.Module | None = None,
        *,
        temperature: float = 1.0,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.config = config
        self.net = (net or build_fusion_net(config)).eval()
        self.temperature = float(temperature)
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def create(cls, config: FusionConfig | None = None, *, seed: int = 0) -> FusionBlock:
        """A freshly initialised block."""
        config = config or FusionConfig()
        torch.manual_seed(seed)
        return cls(config, build_fusion_net(config))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @property
    def needs_states(self) -> bool:
        """Whether the block reads the SER's per-frame outputs."""
        return self.config.kind == "attention"

    def logits(self, inputs: FusionInputs, *, batch_size: int = 256) -> np.ndarray:
        """Uncalibrated logits ``(n, len(labels))``."""
        self.net.eval()
        out = []
        device = next(self.net.parameters()).device  # a GPU while training there
        with torch.inference_mode():
            for start in range(0, len(inputs), batch_size):
                index = torch.arange(start, min(start + batch_size, len(inputs)))
                out.append(self.net(inputs.subset(index).to(device)).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)

    def probabilities(self, inputs: FusionInputs, *, calibrated: bool = True) -> np.ndarray:
        """Posteriors in label order, divided by the stored temperature when ``calibrated``."""
        logits = self.logits(inputs)
        temperature = self.temperature if calibrated else 1.0
        return softmax(logits / temperature)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, folder: str | Path, **metadata: Any) -> Path:
        """Write ``config.json`` and ``model.safetensors`` atomically."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().clone() for k, v in self.net.state_dict().items()}
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
        self.metadata.update(metadata)
        write_json(folder / "config.json", self.config_dict())
        return folder

    def config_dict(self) -> dict[str, Any]:
        """The JSON stored beside the weights."""
        skip = ("label2id", "temperature", "model_type", "architectures")
        return {
            "type": MODEL_TYPE,
            **model_type_fields(MODEL_TYPE),
            "emorl_version": __version__,
            "model": {**asdict(self.config), "labels": list(self.labels)},
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "temperature": self.temperature,
            **{k: v for k, v in self.metadata.items() if k not in skip},
        }

    @classmethod
    def from_pretrained(cls, folder: str | Path, *, kind: str = MODEL_TYPE) -> FusionBlock:
        """Load a block saved by :meth:`save_pretrained` (``kind`` is the config's type)."""
        folder = Path(folder)
        saved = require_model_folder(folder, kind)
        if "model" not in saved:
            raise ModelFolderError(f"{folder / 'config.json'}: no 'model' field")
        check_labels(saved, folder)
        config = FusionConfig.from_dict(saved["model"])
        net = build_fusion_net(config)
        state = load_safetensors(folder / WEIGHTS_NAME)
        if "classifier.weight" in state:
            check_head(state["classifier.weight"].shape[0], config.labels, WEIGHTS_NAME, folder)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if expected != found:
            wrong = sorted(k for k in expected.keys() ^ found.keys()) or sorted(
                k for k in expected if expected[k] != found[k]
            )
            raise ModelFolderError(
                f"{folder / WEIGHTS_NAME} does not match its config: tensors {wrong[:3]} "
                "are missing, unexpected or of another shape"
            )
        net.load_state_dict(state)
        metadata = {
            k: v
            for k, v in saved.items()
            if k not in ("type", "model", "temperature", "model_type", "architectures")
        }
        return cls(config, net, temperature=float(saved.get("temperature", 1.0)), metadata=metadata)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, returned as float32."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
