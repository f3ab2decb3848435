"""Confidence intervals of emorl.agents.stats: Wilson, Student's t, bootstrap at a ceiling."""

from __future__ import annotations

import math

import pytest

from emorl.agents import stats


def test_wilson_known_value_and_method() -> None:
    # 8 successes in 10 calls, 95 %: Wilson (1927) score interval 0.4902 to 0.9433
    low, high = stats.wilson(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-5) and high == pytest.approx(0.94332, abs=1e-5)
    found = stats.rate([True] * 8 + [False] * 2)
    assert found == pytest.approx(
        {"value": 0.8, "low": 0.49016, "high": 0.94332, "method": "wilson"}, abs=1e-5
    )
    assert stats.wilson(0, 10)[0] == 0.0 and stats.wilson(10, 10)[1] == 1.0
    assert all(math.isnan(x) for x in stats.wilson(0, 0))


def test_t_interval_of_a_mean_over_seeds() -> None:
    from scipy.stats import t

    values = [0.6, 0.7, 0.8, 0.75, 0.65]
    found = stats.mean(values)
    sem = 0.0790569415 / math.sqrt(5)  # sample std (ddof=1) / sqrt(n)
    low, high = t.interval(0.95, 4, loc=0.7, scale=sem)
    assert found == pytest.approx({"value": 0.7, "low": low, "high": high, "method": "t"})
    assert stats.mean_t(values) == pytest.approx((0.7, low, high))


def test_bootstrap_at_the_ceiling_is_the_point_and_says_so() -> None:
    # five seeds all at a 100 % success rate: no spread, the t interval degenerates
    found = stats.mean([1.0] * 5)
    assert found == {"value": 1.0, "low": 1.0, "high": 1.0, "method": "bootstrap-percentile"}
    interval = stats.mean_interval([1.0] * 5)
    assert (interval.low, interval.high, interval.method) == (1.0, 1.0, "bootstrap-percentile")


def test_bootstrap_is_reproducible_and_bca_when_possible() -> None:
    values = [1.0, 1.0, 1.0, 0.96, 1.0]
    a = stats.mean_interval(values, method="bootstrap")
    b = stats.mean_interval(values, method="bootstrap")
    assert a == b and a.method == "bootstrap-bca"
    assert a.low < a.value <= a.high <= 1.0


def test_bounds_and_small_samples() -> None:
    found = stats.mean([0.9, 0.95, 1.0], bounds=(0.0, 1.0))
    assert found["method"] == "t" and found["high"] == 1.0 and found["low"] < 0.95
    assert stats.mean([5.0]) == {"value": 5.0, "low": 5.0, "high": 5.0, "method": "none"}
    assert math.isnan(stats.mean([])["value"])
    with pytest.raises(ValueError, match="method"):
        stats.mean_interval([1.0, 2.0], method="normal")  # type: ignore[arg-type]
