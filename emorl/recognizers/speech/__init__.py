"""Speech emotion recognition (SER): the paper's IS09 network, and a Whisper-encoder SER.

- ``model``: :class:`SpeechEmotionRecognizer` and its :class:`SERConfig` (the model folder format)
- ``features``: IS09 frame features (openSMILE), their on-disk cache and the normaliser
- ``network``: the TDNN + BiLSTM + attention network; ``baseline``: the functionals baseline
- ``training``, ``workflow``: training and the CLI's jobs
- ``whisper``: the Whisper-encoder SER (:class:`WhisperSER`: encoder states of the ASR's
  own pass -> per-speaker z-norm -> ``heads``: logistic regression or attention pooling)
- ``augment``: waveform augmentation, test degradations and loudness normalisation
- ``branch``: either SER behind the one interface IEmoNet calls; ``card``: the model card

The names below load on first use, so importing this package stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emorl.recognizers.speech.baseline import FunctionalsBaseline
    from emorl.recognizers.speech.branch import load_ser
    from emorl.recognizers.speech.features import FeatureNormalizer, SpeechFeatureExtractor
    from emorl.recognizers.speech.model import DEFAULT_SER_DIR, SERConfig, SpeechEmotionRecognizer
    from emorl.recognizers.speech.training import SERTrainingConfig, train_ser
    from emorl.recognizers.speech.whisper import FeatureSpec, WhisperEncoderFeatures, WhisperSER

_EXPORTS = {
    "DEFAULT_SER_DIR": "model",
    "SERConfig": "model",
    "SpeechEmotionRecognizer": "model",
    "FeatureNormalizer": "features",
    "SpeechFeatureExtractor": "features",
    "FunctionalsBaseline": "baseline",
    "SERTrainingConfig": "training",
    "train_ser": "training",
    "FeatureSpec": "whisper",
    "WhisperEncoderFeatures": "whisper",
    "WhisperSER": "whisper",
    "load_ser": "branch",
}
__all__ = [
    "DEFAULT_SER_DIR",
    "FeatureNormalizer",
    "FunctionalsBaseline",
    "SERConfig",
    "SERTrainingConfig",
    "SpeechEmotionRecognizer",
    "SpeechFeatureExtractor",
    "FeatureSpec",
    "WhisperEncoderFeatures",
    "WhisperSER",
    "load_ser",
    "train_ser",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
