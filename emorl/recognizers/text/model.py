"""Text emotion recognition (TER): a fine-tuned pre-trained language model.

The paper's head on a pre-trained encoder: pooled encoder output -> a 768-unit fully
connected layer (ReLU, dropout 0.2, L2 0.03 on its weights) -> softmax over the
emotion classes. The 768-unit layer is the penultimate feature the fusion block uses.

On disk a model is a folder with ``config.json`` and ``model.safetensors``. Only the
tensors that training changed are stored (the head, and the encoder layers that were
not frozen, in ``storage_dtype``); the frozen rest is read from the base encoder,
identified by name and the SHA-256 of its weights. A model is thus a few MB on top of
an encoder the user already has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
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
from emorl.recognizers.text.encoders import (
    PACKAGED_ENCODER,
    encoder_fingerprint,
    load_encoder,
    resolve_encoder,
)
from emorl.recognizers.text.input import clean_texts, warn_if_unreliable
from emorl.recognizers.training import trainable_names

MODEL_TYPE = "ter"
_TYPE_KEYS = ("model_type", "architectures")
DEFAULT_TER_DIR = Path(__file__).resolve().parents[2] / "models" / "ter-dialogue-4class"


@dataclass
class TERConfig:
    """Architecture of a text emotion recognizer (the paper's defaults)."""

    labels: tuple[str, ...] = FOUR_CLASS
    encoder: str = PACKAGED_ENCODER
    max_length: int = 48
    hidden_size: int = 768
    dropout: float = 0.2
    l2: float = 0.03
    pooling: Literal["mean", "cls"] = "mean"
    freeze_embeddings: bool = True
    frozen_layers: int = 2
    storage_dtype: Literal["float16", "float32"] = "float16"
    #: added to the class logits before the softmax (empty: none); set by a prior
    #: correction (``-tau * log(training class shares)``, see ``text.training``)
    logit_offsets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        self.logit_offsets = tuple(float(v) for v in self.logit_offsets)
        if self.logit_offsets and len(self.logit_offsets) != len(self.labels):
            raise ValueError(
                f"logit_offsets has {len(self.logit_offsets)} values for {len(self.labels)} labels"
            )
        if not all(math.isfinite(v) for v in self.logit_offsets):
            raise ValueError(f"logit_offsets must be finite, got {self.logit_offsets}")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if self.storage_dtype not in ("float16", "float32"):
            raise ValueError(
                f"storage_dtype must be float16 or float32, got {self.storage_dtype!r}"
            )
        if self.max_length < 4:
            raise ValueError(f"max_length must be at least 4 tokens, got {self.max_length}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TERConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown TER config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


class TextEmotionNet(nn.Module):
    """Encoder + the paper's classification head."""

    def __init__(self, encoder: nn.Module, config: TERConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = config.pooling
        self.fc = nn.Linear(encoder.config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, len(config.labels))

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The penultimate (768-unit) layer."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.relu(self.fc(pooled))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.classifier(self.dropout(self.features(input_ids, attention_mask)))

    def l2_penalty(self) -> torch.Tensor:
        """Keras-style L2 on the fully connected layer's kernel (sum of squares)."""
        return self.fc.weight.pow(2).sum()


def apply_freezing(net: TextEmotionNet, config: TERConfig) -> None:
    """Freeze the embeddings and the lowest ``frozen_layers`` encoder layers."""
    for param in net.parameters():
        param.requires_grad_(True)
    encoder = net.encoder
    if config.freeze_embeddings:
        for param in encoder.embeddings.parameters():
            param.requires_grad_(False)
    layers = encoder.encoder.layer
    if not 0 <= config.frozen_layers <= len(layers):
        raise ValueError(f"frozen_layers must be in 0..{len(layers)}, got {config.frozen_layers}")
    for layer in layers[: config.frozen_layers]:
        for param in layer.parameters():
            param.requires_grad_(False)


@dataclass
class TokenizedTexts:
    """Token ids of a batch of texts, unpadded, with the share of unknown tokens."""

    ids: list[list[int]]
    unknown_fraction: list[float] = field(default_factory=list)


class TextEmotionRecognizer:
    """A text emotion recognizer: ``predict_proba("I'm so happy") -> {"happy": 0.9, ...}``.

    Load the shipped model with ``TextEmotionRecognizer.from_pretrained()``, another with
    ``from_pretrained(folder)``; build an untrained one for fine-tuning with ``create``.
    """

    modality = "text"

    def __init__(
        self,
        config: TERConfig,
        net: TextEmotionNet,
        tokenizer: Any,
        *,
        encoder_folder: Path,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.encoder_folder = encoder_folder
        self.metadata: dict[str, Any] = dict(metadata or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, config: TERConfig | None = None, *, seed: int = 0) -> TextEmotionRecognizer:
        """A new recognizer: the pre-trained encoder with a freshly initialised head."""
        config = config or TERConfig()
        folder = resolve_encoder(config.encoder)
        tokenizer, encoder = load_encoder(folder)
        torch.manual_seed(seed)
        net = TextEmotionNet(encoder, config)
        apply_freezing(net, config)
        return cls(config, net, tokenizer, encoder_folder=folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None) -> TextEmotionRecognizer:
        """Load a saved recognizer (the shipped default when ``folder`` is None)."""
        folder = Path(folder) if folder is not None else DEFAULT_TER_DIR
        saved = require_model_folder(folder, MODEL_TYPE)
        check_labels(saved, folder)
        config = TERConfig.from_dict(saved["model"])
        encoder_folder = resolve_encoder(config.encoder)
        expected = saved.get("encoder", {}).get("sha256")
        found = encoder_fingerprint(encoder_folder)
        if expected and expected != found:
            raise ModelFolderError(
                f"{folder} was fine-tuned from an encoder whose weights have SHA-256 "
                f"{expected[:12]}..., but {encoder_folder} has {found[:12]}...: "
                "install the same encoder version or retrain"
            )
        tokenizer, encoder = load_encoder(encoder_folder)
        net = TextEmotionNet(encoder, config)
        apply_freezing(net, config)
        state = load_safetensors(folder / WEIGHTS_NAME)
        stored = set(trainable_names(net))
        if set(state) != stored:
            missing, extra = sorted(stored - set(state)), sorted(set(state) - stored)
            raise ModelFolderError(
                f"{folder / WEIGHTS_NAME} does not match its config: "
                f"missing {missing[:3]}, unexpected {extra[:3]}"
            )
        params = dict(net.named_parameters())
        if "classifier.weight" in state:
            check_head(state["classifier.weight"].shape[0], config.labels, WEIGHTS_NAME, folder)
        wrong = [n for n, t in state.items() if tuple(t.shape) != tuple(params[n].shape)]
        if wrong:
            raise ModelFolderError(
                f"{folder / WEIGHTS_NAME} does not match its config: tensors {wrong[:3]} "
                "have other shapes than the config's model describes"
            )
        with torch.no_grad():
            for name, tensor in state.items():
                params[name].copy_(tensor.to(params[name].dtype))
        metadata = {k: v for k, v in saved.items() if k not in ("type", "model", *_TYPE_KEYS)}
        return cls(config, net, tokenizer, encoder_folder=encoder_folder, metadata=metadata)

    def save_pretrained(self, folder: str | Path, **metadata: Any) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (trained tensors only) atomically.

        Keyword arguments (``training``, ``data``, ``metrics``...) are stored in the config
        beside the architecture, the label map and the encoder's identity.
        """
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        dtype = getattr(torch, self.config.storage_dtype)
        params = dict(self.net.named_parameters())
        state = {}
        for name in trainable_names(self.net):
            tensor = params[name].detach()
            keep_fp32 = not name.startswith("encoder.")
            state[name] = (tensor if keep_fp32 else tensor.to(dtype)).contiguous().clone()
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
        return self.save_config(folder, **metadata)

    def save_config(self, folder: str | Path, **metadata: Any) -> Path:
        """Rewrite only ``config.json`` (e.g. to add metrics measured on the stored weights)."""
        folder = Path(folder)
        self.metadata.update(metadata)
        config = {
            "type": MODEL_TYPE,
            **model_type_fields(MODEL_TYPE),
            "emorl_version": __version__,
            "model": {**asdict(self.config), "labels": list(self.config.labels)},
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "encoder": {
                "name": self.config.encoder,
                "sha256": encoder_fingerprint(self.encoder_folder),
            },
            **{
                k: v
                for k, v in self.metadata.items()
                if k not in ("label2id", "encoder", *_TYPE_KEYS)
            },
        }
        write_json(folder / "config.json", config)
        return folder

    # ------------------------------------------------------------------ inference
    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in the fixed order of every probability array."""
        return self.config.labels

    def tokenize(self, texts: Sequence[str]) -> TokenizedTexts:
        """Token ids truncated to ``max_length`` (no padding) and unknown-token shares."""
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.config.max_length, padding=False
        )["input_ids"]
        unk = self.tokenizer.unk_token_id
        fractions = [sum(t == unk for t in ids[1:-1]) / max(len(ids) - 2, 1) for ids in encoded]
        return TokenizedTexts(ids=encoded, unknown_fraction=fractions)

    def collate(self, batch: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad token-id lists into ``input_ids`` and ``attention_mask`` tensors."""
        width = max(len(ids) for ids in batch)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        return input_ids, mask

    def _forward_all(
        self, texts: str | Sequence[str], batch_size: int, output: Literal["proba", "features"]
    ) -> np.ndarray:
        cleaned = clean_texts(texts, self.config.max_length)
        tokens = self.tokenize(cleaned)
        warn_if_unreliable(cleaned, tokens.unknown_fraction)
        order = np.argsort([len(ids) for ids in tokens.ids], kind="stable")
        width = len(self.labels) if output == "proba" else self.config.hidden_size
        result = np.empty((len(cleaned), width), dtype=np.float32)
        self.net.eval()
        device = next(self.net.parameters()).device  # a GPU while training there
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                input_ids, mask = self.collate([tokens.ids[i] for i in chunk])
                input_ids, mask = input_ids.to(device), mask.to(device)
                if output == "proba":
                    logits = self.net(input_ids, mask)
                    if self.config.logit_offsets:
                        offsets = torch.tensor(self.config.logit_offsets, dtype=logits.dtype)
                        logits = logits + offsets.to(logits.device)
                    values = torch.softmax(logits, dim=-1)
                else:
                    values = self.net.features(input_ids, mask)
                result[chunk] = values.float().cpu().numpy()
        return result

    def probabilities(self, texts: str | Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Posteriors as an ``(n, len(labels))`` array in label order."""
        return self._forward_all(texts, batch_size, "proba")

    def features(self, texts: str | Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Penultimate-layer features ``(n, hidden_size)`` for the fusion block."""
        return self._forward_all(texts, batch_size, "features")

    def predict_proba(
        self, text: str | Sequence[str], *, batch_size: int = 64
    ) -> dict[str, float] | list[dict[str, float]]:
        """Labelled posteriors: a dict for one string, a list of dicts for a batch."""
        probs = self.probabilities(text, batch_size=batch_size)
        labelled = [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]
        return labelled[0] if isinstance(text, (str, bytes)) else labelled

    def predict(self, text: str | Sequence[str], *, batch_size: int = 64) -> str | list[str]:
        """The most probable label (or labels, for a batch)."""
        probs = self.probabilities(text, batch_size=batch_size)
        names = [self.labels[i] for i in probs.argmax(axis=1)]
        return names[0] if isinstance(text, (str, bytes)) else names
