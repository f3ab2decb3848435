"""Gymnasium environments: ``EmoDialogue-v1`` and the emotion-reward wrapper.

Importing this package imports gymnasium; ``import emorl`` only registers the id.
"""

from __future__ import annotations

from emorl.envs.emo_dialogue import EmoDialogueEnv
from emorl.envs.recognition import (
    BimodalRecognizer,
    EmotionRecognizer,
    OracleRecognizer,
    Reply,
    TextRecognizer,
)

__all__ = [
    "BimodalRecognizer",
    "EmoDialogueEnv",
    "EmotionRecognizer",
    "OracleRecognizer",
    "Reply",
    "TextRecognizer",
]
