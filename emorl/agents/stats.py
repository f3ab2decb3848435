"""Confidence intervals from scipy, each reporting the method that made it.

* Rates over episodes (``k`` successes in ``n`` calls): the Wilson score interval,
  ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``; well-behaved at 0 and 1.
* Means (over seeds or episodes): Student's t interval, ``scipy.stats.t.interval`` with the
  sample standard error (``ddof=1``).
* Where the t interval degenerates, because every value is the same (e.g. five seeds all at
  a 100 % success rate), ``scipy.stats.bootstrap`` is used instead: BCa when the data allow
  it, else the percentile method, with a fixed ``random_state`` so the interval is the same
  on every run. With no spread among the values every resample has the same mean, so the
  bootstrap interval is the single point ``[mean, mean]``: the seeds show no variation, which
  is not proof that the population has none; read it with the number of seeds.
* Fewer than two values: no interval, ``low == high == value`` (method ``"none"``); no values:
  NaN throughout.

:func:`rate` and :func:`mean` return ``{"value", "low", "high", "method"}`` dicts; the method
is ``"wilson"``, ``"t"``, ``"bootstrap-bca"``, ``"bootstrap-percentile"`` or ``"none"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as _stats

__all__ = [
    "Interval",
    "difference",
    "holm",
    "mean",
    "mean_interval",
    "mean_t",
    "rate",
    "rate_interval",
    "wilson",
]

Method = Literal["auto", "t", "bootstrap"]
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its interval and the method that produced the interval."""

    value: float
    low: float
    high: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "method": self.method}


_NAN = float("nan")


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (scipy's ``proportion_ci``)."""
    if n <= 0:
        return (_NAN, _NAN)
    ci = _stats.binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return (float(ci.low), float(ci.high))


def rate_interval(flags: Sequence[bool], confidence: float = 0.95) -> Interval:
    """A rate over episodes with its Wilson interval."""
    k, n = int(np.sum(flags)), len(flags)
    low, high = wilson(k, n, confidence)
    return Interval(k / n if n else _NAN, low, high, "wilson" if n else "none")


def mean_interval(
    values: Sequence[float],
    confidence: float = 0.95,
    *,
    method: Method = "auto",
    bounds: tuple[float, float] | None = None,
    random_state: int = BOOTSTRAP_SEED,
) -> Interval:
    """The mean of ``values`` with a confidence interval (see the module docstring).

    ``method="auto"``: Student's t, or the bootstrap where t degenerates (all values equal);
    ``"t"`` or ``"bootstrap"`` force one. ``bounds=(lo, hi)``: clip the interval to the
    quantity's range (a rate's t interval may cross 0 or 1). ``random_state`` seeds the
    bootstrap's resampling.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Interval(_NAN, _NAN, _NAN, "none")
    m = float(x.mean())
    if x.size < 2:
        return Interval(m, m, m, "none")
    sd = float(x.std(ddof=1))
    if method == "t" or (method == "auto" and sd > 0):
        if sd > 0:
            low, high = _stats.t.interval(
                confidence, x.size - 1, loc=m, scale=sd / math.sqrt(x.size)
            )
        else:  # scipy returns NaN for a zero scale; the t interval is the point
            low = high = m
        found = Interval(m, float(low), float(high), "t")
    elif method in ("auto", "bootstrap"):
        found = _bootstrap(x, m, confidence, random_state)
    else:
        raise ValueError(f"method must be 'auto', 't' or 'bootstrap', got {method!r}")
    if bounds is not None:
        lo, hi = float(bounds[0]), float(bounds[1])
        found = Interval(m, min(max(found.low, lo), hi), max(min(found.high, hi), lo), found.method)
    return found


def _bootstrap(x: np.ndarray, m: float, confidence: float, random_state: int) -> Interval:
    """BCa bootstrap interval of the mean; percentile where BCa is undefined."""
    for name in ("BCa", "percentile"):
        with warnings.catch_warnings():
            # BCa on data without spread: scipy warns (DegenerateDataWarning) and gives NaN
            warnings.simplefilter("ignore", _stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _stats.bootstrap(
                (x,),
                np.mean,
                confidence_level=confidence,
                n_resamples=BOOTSTRAP_RESAMPLES,
                method=name,
                random_state=np.random.default_rng(random_state),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return Interval(m, low, high, f"bootstrap-{name.lower()}")
    return Interval(m, m, m, "bootstrap-percentile")  # unreachable for finite data


def difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean of ``a`` minus mean of ``b`` (independent samples, e.g. seeds of two arms):
    ``scipy.stats.bootstrap`` over both samples resampled independently (BCa, percentile
    where BCa is undefined; seeded), with the bootstrap p-value of "no difference"
    (twice the smaller share of resampled differences on either side of 0, at most 1)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = float(x.mean() - y.mean()) if x.size and y.size else _NAN
    out: dict[str, Any] = {"difference": d, "low": d, "high": d, "p_value": None}
    out["confidence"], out["method"] = confidence, "none"
    if min(x.size, y.size) < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return out  # no spread to resample: the point, no p-value

    def statistic(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return u.mean(axis=axis) - v.mean(axis=axis)

    for name in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _stats.DegenerateDataWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _stats.bootstrap(
                (x, y),
                statistic,
                confidence_level=confidence,
                n_resamples=BOOTSTRAP_RESAMPLES,
                method=name,
                random_state=np.random.default_rng(BOOTSTRAP_SEED),
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            dist = res.bootstrap_distribution
            share = min(float(np.mean(dist <= 0)), float(np.mean(dist >= 0)))
            out.update(low=low, high=high, method=f"bootstrap-{name.lower()}")
            out["p_value"] = min(1.0, 2.0 * share)
            break
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (same order as given)."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adjusted[i] = running
    return [float(v) for v in adjusted]


def mean_t(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student's t interval; the interval collapses to the mean for n < 2."""
    found = mean_interval(values, confidence, method="t")
    return (found.value, found.low, found.high)


def rate(flags: Sequence[bool], confidence: float = 0.95) -> dict[str, Any]:
    """``{"value", "low", "high", "method"}`` of a rate with its Wilson interval."""
    return rate_interval(flags, confidence).to_dict()


def mean(
    values: Sequence[float],
    confidence: float = 0.95,
    *,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """``{"value", "low", "high", "method"}`` of a mean: t interval, bootstrap where t
    degenerates (:func:`mean_interval` with ``method="auto"``)."""
    return mean_interval(values, confidence, bounds=bounds).to_dict()
