"""The emotion reward of the IEmoNet paper (eq. 1 and 2), its estimators and its checks.

``EmotionReward`` turns the recognizer's posteriors over a dialogue into a reward, turn
by turn (variants ``eq2``, ``eq1``, ``eq2_no_badnews``, ``delta``, ``level``,
``level_exempt``, ``none``); ``RewardEstimator`` predicts the emotional change (``eq1``)
or the reward term (``eq2``) a system act is expected to bring, so that expected
reactions (unavoidable bad news) are not punished (:mod:`emorl.reward.training` fits
them, :mod:`emorl.reward.features` builds their inputs). :mod:`emorl.reward.premise` and
:mod:`emorl.reward.credit` check, without training an agent, whether the variants give
the incentives the paper claims.
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
from emorl.reward.features import FEATURE_SETS, KINDS, FeatureSet

__all__ = [
    "DEFAULT_EMOTION_VALUES",
    "FEATURE_SETS",
    "KINDS",
    "VARIANTS",
    "EmotionReward",
    "FeatureSet",
    "RewardEstimator",
    "RewardTerms",
    "emotion_values",
]
