"""``EmotionReward``: the reward a dialogue agent earns from what the recognizer hears.

With ``P(e|h_t)`` the recognizer's posterior over emotions after turn ``t`` and
``ΔP(e|h_t) = P(e|h_t) - P(e|h_{t-1})``, the variants are

=============  ================================================================
``delta_est``  ``Σ_e f(e)·ΔP(e|h_t) − r_est_t``                 (eq. 2, default)
``delta_pest`` ``Σ_e f(e)·(ΔP(e|h_t) − ΔP_est(e|h_t))``         (eq. 1)
``delta``      ``Σ_e f(e)·ΔP(e|h_t)``                          (no estimate)
``level``      ``Σ_e f(e)·P(e|h_t)``     (naive: a lingering mood fools it)
``none``       ``0``
=============  ================================================================

``f`` maps each emotion to a value in a bounded interval (default ``[-1, 1]``).
The estimates ``r_est`` and ``ΔP_est`` are given per call (the environment asks its
:class:`~emorl.reward.estimator.RewardEstimator`); without them they count as zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from emorl.emotions import FOUR_CLASS

Variant = Literal["delta_est", "delta_pest", "delta", "level", "none"]
VARIANTS: tuple[str, ...] = ("delta_est", "delta_pest", "delta", "level", "none")

#: The default f: happy +1, neutral 0, sad -0.5, angry -1.
DEFAULT_EMOTION_VALUES: dict[str, float] = {
    "neutral": 0.0,
    "happy": 1.0,
    "sad": -0.5,
    "angry": -1.0,
}


def emotion_values(
    values: Mapping[str, float] | None = None,
    labels: Sequence[str] = FOUR_CLASS,
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> np.ndarray:
    """``f`` as an array in ``labels`` order, validated: every label once, finite, in bounds."""
    values = dict(DEFAULT_EMOTION_VALUES if values is None else values)
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"reward bounds must be a finite interval low < high, got {bounds}")
    unknown = sorted(set(values) - set(labels))
    missing = [label for label in labels if label not in values]
    if unknown or missing:
        raise ValueError(
            f"emotion values must name exactly the labels {list(labels)}: "
            f"missing {missing}, unknown {unknown}"
        )
    out = np.empty(len(labels), dtype=np.float64)
    for i, label in enumerate(labels):
        value = values[label]
        if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise ValueError(f"emotion value of {label!r} must be a finite number, got {value!r}")
        if not low <= float(value) <= high:
            raise ValueError(f"emotion value of {label!r} is {value}, outside [{low}, {high}]")
        out[i] = float(value)
    return out


@dataclass(frozen=True)
class RewardTerms:
    """One turn's reward and everything it was made of (for ``info``)."""

    variant: str
    reward: float
    level: float
    delta: float
    r_est: float
    delta_pest: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EmotionReward:
    """Reward from emotion posteriors, turn by turn.

    ``reward(posteriors, previous, r_est=..., delta_p_est=...)`` is stateless; the
    environment keeps the previous posteriors. ``variant`` picks what ``reward`` is; every
    call computes all terms so they can be logged side by side.
    """

    def __init__(
        self,
        values: Mapping[str, float] | None = None,
        *,
        variant: Variant = "delta_est",
        labels: Sequence[str] = FOUR_CLASS,
        bounds: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown reward variant {variant!r}; choose from {list(VARIANTS)}")
        self.labels = tuple(labels)
        self.values = emotion_values(values, self.labels, bounds)
        self.bounds = bounds
        self.variant: str = variant

    @property
    def f(self) -> dict[str, float]:
        """The emotion-to-value map."""
        return dict(zip(self.labels, self.values.tolist(), strict=True))

    @property
    def needs_estimate(self) -> bool:
        return self.variant in ("delta_est", "delta_pest")

    def _check(self, name: str, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (len(self.labels),):
            raise ValueError(f"{name} must have shape ({len(self.labels)},), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{name} holds NaN or inf")
        return p

    def __call__(
        self,
        posteriors: np.ndarray,
        previous: np.ndarray,
        *,
        r_est: float = 0.0,
        delta_p_est: np.ndarray | None = None,
    ) -> RewardTerms:
        """The reward of one turn: ``posteriors`` now, ``previous`` one turn before."""
        p = self._check("posteriors", posteriors)
        prev = self._check("previous", previous)
        dp_est = (
            np.zeros_like(p) if delta_p_est is None else self._check("delta_p_est", delta_p_est)
        )
        level = float(self.values @ p)
        delta = float(self.values @ (p - prev))
        delta_pest = float(self.values @ (p - prev - dp_est))
        by_variant = {
            "delta_est": delta - float(r_est),
            "delta_pest": delta_pest,
            "delta": delta,
            "level": level,
            "none": 0.0,
        }
        return RewardTerms(
            variant=self.variant,
            reward=by_variant[self.variant],
            level=level,
            delta=delta,
            r_est=float(r_est),
            delta_pest=delta_pest,
        )

    def __repr__(self) -> str:
        return f"EmotionReward(variant={self.variant!r}, f={self.f})"
