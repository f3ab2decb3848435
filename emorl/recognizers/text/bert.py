"""A BERT encoder and its tokenizer in plain torch and ``tokenizers``, without ``transformers``.

``BertEncoder`` computes what Hugging Face's ``BertModel`` (without pooler, absolute position
embeddings, encoder only) computes, with the same parameter names, so checkpoints made with
either load into the other. ``FastTokenizer`` wraps a ``tokenizer.json`` with the small part
of the Hugging Face tokenizer API that emorl uses. Importing ``transformers`` costs seconds;
this module costs nothing beyond torch.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_new": partial(F.gelu, approximate="tanh"),
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


class UnsupportedModelError(ValueError):
    """A model folder this module cannot reproduce exactly (``transformers`` can)."""


@dataclass
class BertConfig:
    """The fields of a Hugging Face BERT ``config.json`` that the encoder needs."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    model_type: str = ""
    position_embedding_type: str = "absolute"
    is_decoder: bool = False
    add_cross_attention: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BertConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("pad_token_id") is None:
            values.pop("pad_token_id", None)
        if values.get("position_embedding_type") is None:
            values.pop("position_embedding_type", None)
        return cls(**values)

    @classmethod
    def from_folder(cls, folder: Path) -> BertConfig:
        return cls.from_dict(json.loads((Path(folder) / "config.json").read_text()))

    def check(self) -> None:
        """Raise ``UnsupportedModelError`` for a configuration this module cannot run."""
        reason = self._unsupported()
        if reason:
            raise UnsupportedModelError(f"BERT with {reason}")

    def _unsupported(self) -> str | None:
        if self.model_type != "bert":
            return f"model_type {self.model_type!r}"
        if self.hidden_act not in _ACTIVATIONS:
            return f"hidden_act {self.hidden_act!r}"
        if self.position_embedding_type != "absolute":
            return f"position_embedding_type {self.position_embedding_type!r}"
        if self.is_decoder or self.add_cross_attention:
            return "a decoder"
        if self.hidden_size % self.num_attention_heads:
            return "hidden_size not a multiple of num_attention_heads"
        return None


def _place(empty: bool) -> dict[str, Any]:
    # Linear and LayerNorm built on "meta" allocate and initialise nothing.
    return {"device": "meta"} if empty else {}


def _embedding(rows: int, size: int, empty: bool, padding_idx: int | None = None) -> nn.Embedding:
    # An embedding built on "meta" would import torch._dynamo (seconds) to initialise it;
    # an uninitialised CPU tensor avoids that.
    weight = torch.empty(rows, size) if empty else None
    return nn.Embedding(rows, size, padding_idx=padding_idx, _weight=weight)


@dataclass
class EncoderOutput:
    """The encoder's result, named as in ``transformers``."""

    last_hidden_state: torch.Tensor


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        size = config.hidden_size
        self.word_embeddings = _embedding(config.vocab_size, size, empty, config.pad_token_id)
        self.position_embeddings = _embedding(config.max_position_embeddings, size, empty)
        self.token_type_embeddings = _embedding(config.type_vocab_size, size, empty)
        self.LayerNorm = nn.LayerNorm(
            config.hidden_size, eps=config.layer_norm_eps, **_place(empty)
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.token_type_embeddings(token_type_ids)
            + self.position_embeddings(positions)
        )
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size, **_place(empty))
        self.key = nn.Linear(config.hidden_size, config.hidden_size, **_place(empty))
        self.value = nn.Linear(config.hidden_size, config.hidden_size, **_place(empty))
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_size).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None) -> torch.Tensor:
        # softmax(q k^T / sqrt(d) + mask) v, with dropout on the attention probabilities
        context = F.scaled_dot_product_attention(
            self._split(self.query(hidden)),
            self._split(self.key(hidden)),
            self._split(self.value(hidden)),
            attn_mask=additive_mask,
            dropout_p=self.dropout.p if self.training else 0.0,
        )
        return context.transpose(1, 2).reshape(hidden.shape)


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, **_place(empty))
        self.LayerNorm = nn.LayerNorm(
            config.hidden_size, eps=config.layer_norm_eps, **_place(empty)
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.self = BertSelfAttention(config, empty)
        self.output = BertSelfOutput(config, empty)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden, additive_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size, **_place(empty))
        self.activation = _ACTIVATIONS[config.hidden_act]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden))


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size, **_place(empty))
        self.LayerNorm = nn.LayerNorm(
            config.hidden_size, eps=config.layer_norm_eps, **_place(empty)
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.attention = BertAttention(config, empty)
        self.intermediate = BertIntermediate(config, empty)
        self.output = BertOutput(config, empty)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(hidden, additive_mask)
        return self.output(self.intermediate(attended), attended)


class BertLayers(nn.Module):
    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            BertLayer(config, empty) for _ in range(config.num_hidden_layers)
        )

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            hidden = layer(hidden, additive_mask)
        return hidden


class BertEncoder(nn.Module):
    """BERT without pooler; parameter names as in ``transformers.BertModel``.

    ``empty=True`` leaves the parameters uninitialised (for loading weights into them).
    """

    def __init__(self, config: BertConfig, empty: bool = False) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config, empty)
        self.encoder = BertLayers(config, empty)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> EncoderOutput:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        hidden = self.embeddings(input_ids, token_type_ids)
        additive = None
        if attention_mask is not None:
            keep = attention_mask[:, None, None, :].to(hidden.dtype)
            additive = (1.0 - keep) * torch.finfo(hidden.dtype).min
        return EncoderOutput(last_hidden_state=self.encoder(hidden, additive))

    @classmethod
    def from_folder(cls, folder: str | Path, config: BertConfig | None = None) -> BertEncoder:
        """Load ``config.json`` and ``model.safetensors`` (keys with or without ``bert.``)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        config = config or BertConfig.from_folder(folder)
        config.check()
        model = cls(config, empty=True)
        state = load_file(str(folder / "model.safetensors"))
        if not any(k.startswith("embeddings.") for k in state):
            state = {k[len("bert.") :]: v for k, v in state.items() if k.startswith("bert.")}
        wanted = {name for name, _ in model.named_parameters()}
        missing = sorted(wanted - set(state))
        if missing:
            raise KeyError(f"{folder / 'model.safetensors'} lacks {len(missing)}: {missing[:3]}")
        model.load_state_dict(
            {k: state[k].to(torch.float32) for k in wanted}, strict=True, assign=True
        )
        return model


class FastTokenizer:
    """A ``tokenizer.json`` with the Hugging Face calling convention emorl uses.

    ``tokenizer(texts, truncation=True, max_length=48, padding=False)`` returns a dict with
    ``input_ids``, ``token_type_ids`` and ``attention_mask`` (lists, or tensors with
    ``return_tensors="pt"``); ``unk_token_id``, ``pad_token_id``, ``cls_token_id`` and
    ``sep_token_id`` are attributes.
    """

    def __init__(
        self, tokenizer: Any, special: dict[str, str], model_max_length: int | None = None
    ) -> None:
        self._tokenizer = tokenizer
        # truncation is a setting of the shared Rust tokenizer: one call at a time sets it
        self._lock = threading.Lock()
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.model_max_length = model_max_length
        for role in ("unk", "pad", "cls", "sep", "mask"):
            token = special.get(f"{role}_token")
            setattr(self, f"{role}_token", token)
            ident = tokenizer.token_to_id(token) if token is not None else None
            setattr(self, f"{role}_token_id", ident)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @classmethod
    def from_folder(cls, folder: str | Path) -> FastTokenizer:
        """Read ``tokenizer.json`` and the special tokens its folder declares.

        Raises ``UnsupportedModelError`` where ``tokenizer_config.json`` asks for a
        normalisation that ``tokenizer.json`` does not do (``transformers`` would rebuild it).
        """
        from tokenizers import Tokenizer

        folder = Path(folder)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        settings = _json_or_empty(folder / "tokenizer_config.json")
        conflict = _normalizer_conflict(tokenizer.normalizer, settings)
        if conflict:
            raise UnsupportedModelError(f"{folder}: {conflict}")
        special = {
            "unk_token": getattr(tokenizer.model, "unk_token", None),
            "pad_token": (tokenizer.padding or {}).get("pad_token"),
        }
        for source in (settings, _json_or_empty(folder / "special_tokens_map.json")):
            for key, value in source.items():
                if key.endswith("_token") and value is not None:
                    special[key] = value["content"] if isinstance(value, dict) else value
        max_length = settings.get("model_max_length")
        if not isinstance(max_length, int) or max_length > 1_000_000:
            max_length = None
        return cls(tokenizer, special, max_length)

    def __call__(
        self,
        text: str | list[str],
        *,
        truncation: bool = False,
        max_length: int | None = None,
        padding: bool | str = False,
        add_special_tokens: bool = True,
        return_tensors: str | None = None,
    ) -> dict[str, Any]:
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        limit = max_length if max_length is not None else self.model_max_length
        with self._lock:
            if truncation and limit is not None:
                self._tokenizer.enable_truncation(limit)
            try:
                encodings = self._tokenizer.encode_batch(
                    texts, add_special_tokens=add_special_tokens
                )
            finally:
                self._tokenizer.no_truncation()
        ids = [e.ids for e in encodings]
        types = [e.type_ids for e in encodings]
        masks = [e.attention_mask for e in encodings]
        if padding:
            width = max(map(len, ids), default=0)
            if padding == "max_length" and limit is not None:
                width = max(width, limit)
            pad = self.pad_token_id or 0
            ids = [row + [pad] * (width - len(row)) for row in ids]
            types = [row + [0] * (width - len(row)) for row in types]
            masks = [row + [0] * (width - len(row)) for row in masks]
        result: dict[str, Any] = {
            "input_ids": ids,
            "token_type_ids": types,
            "attention_mask": masks,
        }
        if return_tensors == "pt":
            return {k: torch.tensor(v, dtype=torch.long) for k, v in result.items()}
        if return_tensors is not None:
            raise ValueError(f"return_tensors must be None or 'pt', got {return_tensors!r}")
        return {k: v[0] for k, v in result.items()} if single else result

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self._tokenizer.id_to_token(i) for i in ids]

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)


def _json_or_empty(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _normalizer_conflict(normalizer: Any, settings: dict[str, Any]) -> str | None:
    from tokenizers import normalizers

    if not isinstance(normalizer, normalizers.BertNormalizer):
        return None
    pairs = (
        ("do_lower_case", "lowercase"),
        ("strip_accents", "strip_accents"),
        ("tokenize_chinese_chars", "handle_chinese_chars"),
    )
    for setting, attribute in pairs:
        if setting in settings and settings[setting] != getattr(normalizer, attribute):
            return f"tokenizer_config {setting}={settings[setting]!r} differs from tokenizer.json"
    return None
    pairs = (
        ("do_lower_case", "lowercase"),
        ("strip_accents", "strip_accents"),
        ("tokenize_chinese_chars", "handle_chinese_chars"),
    )
    for setting, field_name in pairs:
        if setting in settings and settings[setting] != normalizer.get(field_name):
            return f"tokenizer_config {setting}={settings[setting]!r} differs from tokenizer.json"
    return None


def load_bert(folder: str | Path) -> tuple[FastTokenizer, BertEncoder]:
    """Tokenizer and encoder of a local BERT folder, or ``UnsupportedModelError``."""
    folder = Path(folder)
    config = BertConfig.from_folder(folder)
    config.check()
    return FastTokenizer.from_folder(folder), BertEncoder.from_folder(folder, config)
