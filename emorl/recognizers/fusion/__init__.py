"""Fusion of the text and speech branches: the blocks inside IEmoNet.

- ``model``: :class:`FusionBlock` (feed-forward or attention fusion) and :class:`FusionConfig`
- ``features``: the fusion inputs taken from frozen TER and SER models
- ``training``: training the fusion block, and joint fine-tuning of all three

The names below load on first use, so importing this package stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emorl.recognizers.fusion.features import fusion_inputs, speech_outputs
    from emorl.recognizers.fusion.model import FusionBlock, FusionConfig, FusionInputs
    from emorl.recognizers.fusion.training import (
        FusionTrainingConfig,
        JointTrainingConfig,
        train_fusion,
    )

_EXPORTS = {
    "FusionBlock": "model",
    "FusionConfig": "model",
    "FusionInputs": "model",
    "fusion_inputs": "features",
    "speech_outputs": "features",
    "FusionTrainingConfig": "training",
    "JointTrainingConfig": "training",
    "train_fusion": "training",
}
__all__ = [
    "FusionBlock",
    "FusionConfig",
    "FusionInputs",
    "FusionTrainingConfig",
    "JointTrainingConfig",
    "fusion_inputs",
    "speech_outputs",
    "train_fusion",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
