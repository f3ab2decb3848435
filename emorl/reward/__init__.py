"""The emotion reward of the IEmoNet paper (eq. 1 and 2) and its reward estimator.

``EmotionReward`` turns the recognizer's posteriors over a dialogue into a reward, turn
by turn; ``RewardEstimator`` predicts the emotional reaction a system act is expected to
cause, so that expected reactions (bad news) are not punished.
"""

from __future__ import annotations

from emorl.reward.emotion_reward import (
    DEFAULT_EMOTION_VALUES,
    VARIANTS,
    EmotionReward,
    RewardTerms,
    emotion_values,
)
from emorl.reward.estimator import RewardEstimator

__all__ = [
    "DEFAULT_EMOTION_VALUES",
    "VARIANTS",
    "EmotionReward",
    "RewardEstimator",
    "RewardTerms",
    "emotion_values",
]
