"""The fusion block: IEmoNet's classifier over frozen text and speech features.

Two blocks read the penultimate outputs of a frozen TER and a frozen SER:

* ``feedforward`` (the paper's): concatenated features -> dense (ReLU, dropout) -> softmax.
* ``attention``: aligns the two feature sets. The projected text vector is the query of
  scaled dot-product attention over the SER's per-frame BiLSTM outputs (padding masked);
  the attended speech summary, the projected text vector and the projected SER vector
  are concatenated and classified as above.

Two options let a block weigh the branches (both off in old configs, which keep loading):

* ``reliability``: per branch, its posteriors (``"posteriors"``), their entropy divided by
  ``log K`` (``"entropy"``) and the top probability (``"max_prob"``) join the block's input,
  after the input dropout (they are few and must not be dropped). They are computed from
  the branch posteriors carried by :class:`FusionInputs` (``text_probs``, ``speech_probs``).
* ``modality_dropout``: while training, each example has this probability of losing one
  branch (text or speech, even odds): its features and reliability inputs are zeroed and a
  two-unit presence indicator says which branch is there. The indicator is an input of
  every block trained with modality dropout; at inference both branches are present unless
  :attr:`FusionInputs.present` says otherwise.

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
#: What ``FusionConfig.reliability`` may name, in the order the inputs are built.
RELIABILITY_INPUTS: tuple[str, ...] = ("posteriors", "entropy", "max_prob")


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
    reliability: tuple[str, ...] = ()
    modality_dropout: float = 0.0

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        if isinstance(self.reliability, str):
            self.reliability = (self.reliability,)
        self.reliability = tuple(self.reliability)
        unknown = [r for r in self.reliability if r not in RELIABILITY_INPUTS]
        if unknown or len(set(self.reliability)) != len(self.reliability):
            raise ValueError(
                f"reliability must name distinct inputs among {', '.join(RELIABILITY_INPUTS)}, "
                f"got {list(self.reliability)}"
            )
        self.reliability = tuple(r for r in RELIABILITY_INPUTS if r in self.reliability)
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if self.kind not in ("feedforward", "attention"):
            raise ValueError(f"kind must be 'feedforward' or 'attention', got {self.kind!r}")
        if min(self.text_size, self.speech_size, self.hidden_size, self.attention_dim) < 1:
            raise ValueError("feature and layer sizes must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def uses_probabilities(self) -> bool:
        """Whether the block reads the branch posteriors (``reliability`` is set)."""
        return bool(self.reliability)

    @property
    def has_indicator(self) -> bool:
        """Whether a branch-presence indicator is an input (blocks with modality dropout)."""
        return self.modality_dropout > 0

    def reliability_size(self) -> int:
        """Reliability inputs per branch."""
        k = len(self.labels)
        return sum(k if r == "posteriors" else 1 for r in self.reliability)

    def extra_size(self) -> int:
        """Inputs beside the features: reliability of both branches and the indicator."""
        return 2 * self.reliability_size() + (2 if self.has_indicator else 0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FusionConfig:
        """The config of a saved block; fields added since (reliability, ...) default off."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown fusion config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class FusionInputs:
    """Frozen sub-model outputs for a batch of utterances.

    ``text`` ``(n, text_size)`` and ``speech`` ``(n, speech_size)`` are the penultimate
    features; ``states`` ``(n, frames, state_size)`` with ``lengths`` are the SER's
    per-frame outputs, needed by the attention block only. ``text_probs`` and
    ``speech_probs`` ``(n, K)`` are the branches' own posteriors (blocks with
    ``reliability``); ``present`` ``(n, 2)`` marks the text and speech branch present (1)
    or missing (0) for blocks with modality dropout (``None``: both present).
    """

    text: torch.Tensor
    speech: torch.Tensor
    states: torch.Tensor | None = None
    lengths: torch.Tensor | None = None
    text_probs: torch.Tensor | None = None
    speech_probs: torch.Tensor | None = None
    present: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.text.shape[0])

    def to(self, device: torch.device | str) -> FusionInputs:
        """The same inputs on ``device``."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return FusionInputs(
            self.text.to(device),
            self.speech.to(device),
            move(self.states),
            move(self.lengths),
            move(self.text_probs),
            move(self.speech_probs),
            move(self.present),
        )

    def subset(self, index: np.ndarray | torch.Tensor) -> FusionInputs:
        index = torch.as_tensor(index, dtype=torch.long)

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[index]

        states, lengths = None, None
        if self.states is not None and self.lengths is not None:
            lengths = self.lengths[index]
            width = int(lengths.max()) if len(lengths) else 1
            states = self.states[index, :width]
        return FusionInputs(
            self.text[index],
            self.speech[index],
            states,
            lengths,
            pick(self.text_probs),
            pick(self.speech_probs),
            pick(self.present),
        )


def reliability_inputs(probs: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """``(n, ...)`` reliability inputs of one branch's posteriors ``(n, K)`` (see module)."""
    parts = []
    k = probs.shape[-1]
    for name in names:
        if name == "posteriors":
            parts.append(probs)
        elif name == "entropy":
            p = probs.clamp_min(1e-12)
            parts.append(-(p * p.log()).sum(-1, keepdim=True) / float(np.log(k)))
        elif name == "max_prob":
            parts.append(probs.max(-1, keepdim=True).values)
    return torch.cat(parts, dim=-1) if parts else probs.new_zeros((probs.shape[0], 0))


class BranchGate(nn.Module):
    """Presence of each branch (modality dropout) and the reliability inputs of a block."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.reliability = config.reliability
        self.indicator = config.has_indicator
        self.p = config.modality_dropout

    def presence(self, inputs: FusionInputs) -> torch.Tensor:
        """``(n, 2)``: given presence, with one branch dropped at random while training."""
        n = len(inputs)
        present = (
            inputs.present.to(inputs.text.dtype)
            if inputs.present is not None
            else inputs.text.new_ones((n, 2))
        )
        if self.training and self.p > 0:
            drop = torch.rand(n, device=present.device) < self.p
            speech = torch.rand(n, device=present.device) < 0.5
            mask = torch.ones_like(present)
            mask[drop & ~speech, 0] = 0.0
            mask[drop & speech, 1] = 0.0
            present = present * mask
        return present

    def extras(self, inputs: FusionInputs, present: torch.Tensor) -> torch.Tensor:
        """Reliability inputs of both branches (zeroed when absent) and the indicator."""
        parts = []
        if self.reliability:
            if inputs.text_probs is None or inputs.speech_probs is None:
                raise ValueError(
                    "this fusion block reads the branch posteriors (reliability "
                    f"{list(self.reliability)}): pass text_probs and speech_probs"
                )
            parts.append(reliability_inputs(inputs.text_probs, self.reliability) * present[:, :1])
            parts.append(reliability_inputs(inputs.speech_probs, self.reliability) * present[:, 1:])
        if self.indicator:
            parts.append(present)
        if not parts:
            return inputs.text.new_zeros((len(inputs), 0))
        return torch.cat(parts, dim=-1)


class FeedForwardFusion(nn.Module):
    """The paper's block: concatenation -> dense -> logits."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        width = config.text_size + config.speech_size + config.extra_size()
        self.hidden = nn.Linear(width, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.labels))
        self.gate = BranchGate(config)

    def forward(self, inputs: FusionInputs) -> torch.Tensor:
        present = self.gate.presence(inputs)
        joint = torch.cat([inputs.text * present[:, :1], inputs.speech * present[:, 1:]], dim=-1)
        joint = torch.cat([self.dropout(joint), self.gate.extras(inputs, present)], dim=-1)
        return self.classifier(self.dropout(torch.relu(self.hidden(joint))))


class AttentionFusion(nn.Module):
    """Text vector attending over the SER's frame outputs, then a dense block."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        d = config.attention_dim
        self.query = nn.Linear(config.text_size, d)
        self.key = nn.Linear(config.state_size, d)
        self.value = nn.Linear(config.state_size, d)
        self.speech = nn.Linear(config.speech_size, d)
        self.hidden = nn.Linear(3 * d + config.extra_size(), config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.labels))
        self.scale = d**-0.5
        self.gate = BranchGate(config)

    def attend(
        self, inputs: FusionInputs, present: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attended speech summary ``(n, d)`` and the attention weights ``(n, frames)``."""
        if inputs.states is None or inputs.lengths is None:
            raise ValueError("the attention fusion block needs the SER's frame states")
        text = inputs.text if present is None else inputs.text * present[:, :1]
        query = self.query(self.dropout(text))
        steps = inputs.states.shape[1]
        mask = torch.arange(steps, device=inputs.lengths.device)[None, :] < inputs.lengths[:, None]
        scores = torch.einsum("nd,ntd->nt", query, self.key(inputs.states)) * self.scale
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.einsum("nt,ntd->nd", weights, self.value(inputs.states)), weights

    def forward(self, inputs: FusionInputs) -> torch.Tensor:
        present = self.gate.presence(inputs)
        attended, _ = self.attend(inputs, present)
        text = self.query(self.dropout(inputs.text * present[:, :1]))
        speech = self.speech(self.dropout(inputs.speech * present[:, 1:]))
        extras = self.gate.extras(inputs, present)
        joint = torch.cat([text, speech, attended * present[:, 1:], extras], dim=-1)
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

    @property
    def needs_probabilities(self) -> bool:
        """Whether the block reads the branch posteriors (``text_probs``, ``speech_probs``)."""
        return self.config.uses_probabilities

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
