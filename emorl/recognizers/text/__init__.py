"""Text emotion recognition (TER): a fine-tuned pre-trained encoder with the paper's head.

- ``model``: :class:`TextEmotionRecognizer` and its :class:`TERConfig` (the model folder format)
- ``encoders``, ``bert``: the pre-trained encoder (packaged MiniLM, or BERT without transformers)
- ``input``: cleaning and validation of the input text
- ``data``, ``training``, ``workflow``: corpora as text sets, training, and the CLI's jobs

The names below load on first use, so importing this package stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emorl.recognizers.text.input import TextInputError, UnreliableTextWarning
    from emorl.recognizers.text.model import DEFAULT_TER_DIR, TERConfig, TextEmotionRecognizer
    from emorl.recognizers.text.training import TERTrainingConfig, train_ter

_EXPORTS = {
    "DEFAULT_TER_DIR": "model",
    "TERConfig": "model",
    "TextEmotionRecognizer": "model",
    "TERTrainingConfig": "training",
    "train_ter": "training",
    "TextInputError": "input",
    "UnreliableTextWarning": "input",
}
__all__ = [
    "DEFAULT_TER_DIR",
    "TERConfig",
    "TERTrainingConfig",
    "TextEmotionRecognizer",
    "TextInputError",
    "UnreliableTextWarning",
    "train_ter",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
