"""``EmotionReward``: the reward a dialogue agent earns from what the recognizer hears.

With ``P(e|h_t)`` the recognizer's posterior over emotions after turn ``t`` and
``ΔP(e|h_t) = P(e|h_t) - P(e|h_{t-1})``, the variants are

==================  ===========================================================
``eq2``             ``Σ_e f(e)·ΔP(e|h_t) − r_est_t``  (eq. 2, default; ``r_est`` from a
                    scalar regressor fitted to the reward term ``Σ_e f(e)·ΔP``)
``eq1``             ``Σ_e f(e)·(ΔP(e|h_t) − ΔP_est(e|h_t))``  (eq. 1; ``ΔP_est`` from a
                    vector regressor fitted to the change of every emotion)
``eq2_no_badnews``  eq. 2 with an estimator blind to the bad news (see
                    :mod:`emorl.reward.features`)
``delta``           ``Σ_e f(e)·ΔP(e|h_t)``                  (no estimate)
``level``           ``Σ_e f(e)·P(e|h_t)``  (naive: a lingering mood fools it)
``level_exempt``    ``level``, but on the reply to unavoidable bad news only the
                    positive part of ``f`` counts (a hand rule for the expected reaction)
``none``            ``0``
==================  ===========================================================

``f`` maps each emotion to a value in a bounded interval (default ``[-1, 1]``).
The estimates ``r_est`` and ``ΔP_est`` are given per call (the environment asks its
:class:`~emorl.reward.estimator.RewardEstimator`); without them they count as zero.
:meth:`EmotionReward.batch` computes every term for many transitions at once (the
premise check and the credit study use it; a single turn is a batch of one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from emorl.emotions import FOUR_CLASS

Variant = Literal["eq2", "eq1", "eq2_no_badnews", "delta", "level", "level_exempt", "none"]
VARIANTS: tuple[str, ...] = (
    "eq2",
    "eq1",
    "eq2_no_badnews",
    "delta",
    "level",
    "level_exempt",
    "none",
)
#: The estimator kind each estimated variant needs (the kind names the variant).
ESTIMATED: dict[str, str] = {"eq1": "eq1", "eq2": "eq2", "eq2_no_badnews": "eq2_no_badnews"}
#: Variant names of emorl <= 0.1, refused with the new name.
RENAMED: dict[str, str] = {"delta_est": "eq2", "delta_pest": "eq1"}

#: The default f: happy +1, neutral 0, sad -0.5, angry -1.
DEFAULT_EMOTION_VALUES: dict[str, float] = {
    "neutral": 0.0,
    "happy": 1.0,
    "sad": -0.5,
    "angry": -1.0,
}


def check_variant(variant: Any, where: str = "reward") -> str:
    """``variant`` if it is one of :data:`VARIANTS`; a ``ValueError`` naming ``where`` else."""
    if variant in RENAMED:
        raise ValueError(
            f"{where}: reward variant {variant!r} was renamed {RENAMED[variant]!r} "
            f"(eq. {'2' if RENAMED[variant] == 'eq2' else '1'} of the paper); "
            f"choose from {list(VARIANTS)}"
        )
    if variant not in VARIANTS:
        raise ValueError(
            f"{where}: unknown reward variant {variant!r}; choose from {list(VARIANTS)}"
        )
    return str(variant)


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
    """One turn's reward and everything it was made of (for ``info``).

    ``eq1`` and ``eq2`` are the two estimated forms with the estimates the call was given
    (zero when not given), ``exempt`` whether the turn answered unavoidable bad news.
    """

    variant: str
    reward: float
    level: float
    level_exempt: float
    delta: float
    eq1: float
    eq2: float
    r_est: float
    exempt: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EmotionReward:
    """Reward from emotion posteriors, turn by turn.

    ``reward(posteriors, previous, r_est=..., delta_p_est=..., exempt=...)`` is
    stateless; the environment keeps the previous posteriors. ``variant`` picks what
    ``reward`` is; every call computes all terms so they can be logged side by side.
    """

    def __init__(
        self,
        values: Mapping[str, float] | None = None,
        *,
        variant: Variant = "eq2",
        labels: Sequence[str] = FOUR_CLASS,
        bounds: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        self.variant: str = check_variant(variant)
        self.labels = tuple(labels)
        self.values = emotion_values(values, self.labels, bounds)
        self.bounds = bounds

    @property
    def f(self) -> dict[str, float]:
        """The emotion-to-value map."""
        return dict(zip(self.labels, self.values.tolist(), strict=True))

    @property
    def needs_estimate(self) -> bool:
        return self.variant in ESTIMATED

    @property
    def estimator_kind(self) -> str | None:
        """The kind of :class:`~emorl.reward.RewardEstimator` the variant needs (or None)."""
        return ESTIMATED.get(self.variant)

    def _check(self, name: str, p: Any, n: int | None) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        k = len(self.labels)
        if p.ndim != 2 or p.shape[1] != k or (n is not None and p.shape[0] != n):
            shape = f"(n, {k})" if n is None else f"({n}, {k})"
            raise ValueError(f"{name} must have shape {shape}, got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{name} holds NaN or inf")
        return p

    def batch(
        self,
        posteriors: Any,
        previous: Any,
        *,
        r_est: Any = 0.0,
        delta_p_est: Any = None,
        exempt: Any = False,
    ) -> dict[str, np.ndarray]:
        """Every term for ``n`` transitions: ``(n, labels)`` posteriors now and one turn
        before, ``r_est`` ``(n,)`` or a scalar, ``delta_p_est`` ``(n, labels)`` or None,
        ``exempt`` ``(n,)`` or a bool. Returns arrays ``level``, ``level_exempt``,
        ``delta``, ``eq1``, ``eq2``, ``r_est``, ``exempt`` and ``reward`` (this variant)."""
        p = self._check("posteriors", posteriors, None)
        n = p.shape[0]
        prev = self._check("previous", previous, n)
        dp_est = (
            np.zeros_like(p) if delta_p_est is None else self._check("delta_p_est", delta_p_est, n)
        )
        r = np.broadcast_to(np.asarray(r_est, dtype=np.float64), (n,)).copy()
        if not np.all(np.isfinite(r)):
            raise ValueError("r_est holds NaN or inf")
        ex = np.broadcast_to(np.asarray(exempt, dtype=bool), (n,)).copy()
        level = p @ self.values
        delta = (p - prev) @ self.values
        terms = {
            "level": level,
            "level_exempt": np.where(ex, p @ np.maximum(self.values, 0.0), level),
            "delta": delta,
            "eq1": (p - prev - dp_est) @ self.values,
            "eq2": delta - r,
            "r_est": r,
            "exempt": ex,
        }
        terms["reward"] = self.select(terms, self.variant)
        return terms

    @staticmethod
    def select(terms: Mapping[str, np.ndarray], variant: str) -> np.ndarray:
        """The reward of ``variant`` from :meth:`batch`'s terms (``eq2_no_badnews`` is
        the ``eq2`` term computed with that estimator's ``r_est``)."""
        check_variant(variant)
        if variant == "none":
            return np.zeros_like(np.asarray(terms["level"], dtype=np.float64))
        return np.asarray(terms["eq2" if variant == "eq2_no_badnews" else variant])

    def __call__(
        self,
        posteriors: np.ndarray,
        previous: np.ndarray,
        *,
        r_est: float = 0.0,
        delta_p_est: np.ndarray | None = None,
        exempt: bool = False,
    ) -> RewardTerms:
        """The reward of one turn: ``posteriors`` now, ``previous`` one turn before."""
        k = len(self.labels)
        for name, p in (("posteriors", posteriors), ("previous", previous)):
            if np.shape(p) != (k,):
                raise ValueError(f"{name} must have shape ({k},), got {np.shape(p)}")
        if delta_p_est is not None and np.shape(delta_p_est) != (k,):
            raise ValueError(f"delta_p_est must have shape ({k},), got {np.shape(delta_p_est)}")
        t = self.batch(
            np.asarray(posteriors, dtype=np.float64)[None],
            np.asarray(previous, dtype=np.float64)[None],
            r_est=float(r_est),
            delta_p_est=None if delta_p_est is None else np.asarray(delta_p_est)[None],
            exempt=bool(exempt),
        )
        return RewardTerms(
            variant=self.variant,
            reward=float(t["reward"][0]),
            level=float(t["level"][0]),
            level_exempt=float(t["level_exempt"][0]),
            delta=float(t["delta"][0]),
            eq1=float(t["eq1"][0]),
            eq2=float(t["eq2"][0]),
            r_est=float(t["r_est"][0]),
            exempt=bool(t["exempt"][0]),
        )

    def __repr__(self) -> str:
        return f"EmotionReward(variant={self.variant!r}, f={self.f})"
