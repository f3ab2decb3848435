"""Confidence intervals: Wilson score for rates, Student's t for means."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as _stats


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (well-behaved at 0 and 1)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    z = float(_stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def mean_t(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student's t interval; the interval collapses to the mean for n < 2."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    mean = float(x.mean())
    if x.size < 2:
        return (mean, mean, mean)
    half = float(_stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (mean, mean - half, mean + half)


def rate(flags: Sequence[bool], confidence: float = 0.95) -> dict[str, float]:
    """``{"value", "low", "high"}`` of a rate with its Wilson interval."""
    k, n = int(np.sum(flags)), len(flags)
    low, high = wilson(k, n, confidence)
    return {"value": k / n if n else float("nan"), "low": low, "high": high}


def mean(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """``{"value", "low", "high"}`` of a mean with its t interval."""
    m, low, high = mean_t(values, confidence)
    return {"value": m, "low": low, "high": high}
