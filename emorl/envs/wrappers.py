"""``EmotionRewardWrapper``: the emotion reward on top of any dialogue environment.

The wrapped environment's ``info`` must carry the user's utterance (``info["user_text"]``
by default; optionally ``info["audio"]`` for a speech recognizer). The wrapper hears it
with a recognizer, keeps the previous posteriors, and adds (or substitutes) the
:class:`~emorl.reward.EmotionReward` of the turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.envs.recognition import EmotionRecognizer, Reply, TextRecognizer
from emorl.reward import EmotionReward

Estimator = Callable[[Any, Any], np.ndarray]


class EmotionRewardWrapper(gym.Wrapper):
    """Add ``weight * EmotionReward`` to each step's reward (``mode="replace"``: use it alone).

    ``recognizer`` gets :class:`~emorl.envs.recognition.Reply` objects (default: the shipped
    text recognizer); ``estimator(obs, action)`` feeds the estimated variants: it returns
    ``ΔP_est`` (a vector, for ``eq1``; ``eq2`` then uses ``r_est = Σ f·ΔP_est``) or
    ``r_est`` (a number, for ``eq2`` and ``eq2_no_badnews``). ``level_exempt`` exempts no
    turn here (the wrapper does not know which act is unavoidable bad news).
    The turn's terms go to ``info["emotion_reward"]``, the posteriors to
    ``info["emotion_posteriors"]``.
    """

    def __init__(
        self,
        env: gym.Env,
        recognizer: EmotionRecognizer | None = None,
        reward: EmotionReward | None = None,
        *,
        estimator: Estimator | None = None,
        text_key: str = "user_text",
        emotion_key: str = "true_emotion",
        mode: str = "add",
        weight: float = 1.0,
    ) -> None:
        super().__init__(env)
        if mode not in ("add", "replace"):
            raise ValueError(f"mode must be 'add' or 'replace', got {mode!r}")
        self.recognizer = recognizer if recognizer is not None else TextRecognizer()
        self.reward_fn = reward if reward is not None else EmotionReward(variant="delta")
        if self.reward_fn.needs_estimate and estimator is None:
            raise ValueError(f"variant {self.reward_fn.variant!r} needs an estimator")
        self.estimator = estimator
        self.text_key, self.emotion_key = text_key, emotion_key
        self.mode, self.weight = mode, float(weight)
        self._previous = np.full(len(FOUR_CLASS), 1 / len(FOUR_CLASS))
        self._obs: Any = None

    def _hear(self, info: dict[str, Any]) -> np.ndarray | None:
        text = info.get(self.text_key)
        if not isinstance(text, str):
            return None
        reply = Reply(text, str(info.get(self.emotion_key, "neutral")))
        return self.recognizer.posteriors([reply])[0]

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        heard = self._hear(info)
        self._previous = (
            heard if heard is not None else np.full(len(FOUR_CLASS), 1 / len(FOUR_CLASS))
        )
        self._obs = obs
        info = {
            **info,
            "emotion_posteriors": dict(zip(FOUR_CLASS, self._previous.tolist(), strict=True)),
        }
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        heard = self._hear(info)
        if heard is None:
            raise KeyError(
                f"the wrapped environment's info has no {self.text_key!r} text: "
                "EmotionRewardWrapper needs the user's utterance in info"
            )
        r_est, dp_est = 0.0, None
        if self.estimator is not None:
            estimate = np.asarray(self.estimator(self._obs, action), dtype=np.float64)
            if estimate.ndim == 0:
                if self.reward_fn.variant == "eq1":
                    raise ValueError("eq1 needs ΔP_est (a vector) from the estimator, got a number")
                r_est = float(estimate)
            else:
                dp_est, r_est = estimate, float(estimate @ self.reward_fn.values)
        terms = self.reward_fn(heard, self._previous, r_est=r_est, delta_p_est=dp_est)
        self._previous, self._obs = heard, obs
        emotion = self.weight * terms.reward
        total = emotion if self.mode == "replace" else float(reward) + emotion
        info = {
            **info,
            "emotion_reward": terms.as_dict(),
            "emotion_posteriors": dict(zip(FOUR_CLASS, heard.tolist(), strict=True)),
        }
        return obs, total, terminated, truncated, info
