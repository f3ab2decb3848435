"""Credit assignment: the reward's weight on the act's effect and on the mood before it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.reward.credit import REGRESSORS, credit_study, regress


def test_regress_recovers_known_weights_with_call_bootstrap_intervals() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = 0.3 + x @ np.array([1.0, 0.0, 0.5]) + rng.normal(0, 0.1, 600)
    fit = regress(x, y, np.arange(600) // 6, resamples=200)
    for name, true in zip(REGRESSORS, (1.0, 0.0, 0.5), strict=True):
        assert fit[name]["low"] < true < fit[name]["high"]
        assert fit[name]["high"] - fit[name]["low"] < 0.1
    assert fit["intercept"] == pytest.approx(0.3, abs=0.03) and fit["r2"] > 0.95
    assert fit["calls"] == 100 and fit["rows"] == 600


def test_credit_study_finds_the_lingering_leak(tmp_path) -> None:
    credit_study(
        tmp_path,
        lingering=(0.0, 0.95),
        episodes=50,
        recognizer="oracle",
        estimator_episodes=40,
        resamples=50,
        progress=False,
    )
    data = json.loads((tmp_path / "credit.json").read_text())
    assert (tmp_path / "credit.png").stat().st_size > 5000
    assert "mood before (leak)" in (tmp_path / "credit.md").read_text()
    by = {(r["lingering"], r["variant"]): r for r in data["rows"]}
    assert len(by) == 2 * 6  # every variant but none, per level
    # level inherits the lingering mood; delta charges its rebound
    assert (
        by[(0.95, "level")]["mood_before"]["value"]
        > by[(0.0, "level")]["mood_before"]["value"] + 0.3
    )
    assert by[(0.0, "delta")]["mood_before"]["high"] < -0.5
    # every variant passes the act's own effect on
    assert all(r["effect"]["low"] > 0.5 for r in data["rows"])
    # level_exempt does not punish unavoidable bad news as level does
    for level in (0.0, 0.95):
        exempt = by[(level, "level_exempt")]["bad_news_effect"]["value"]
        assert abs(exempt) < by[(level, "level")]["bad_news_effect"]["value"]


def test_bad_levels_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"lingering: give levels in \[0.0, 0.95\]"):
        credit_study(tmp_path, lingering=(0.99,), recognizer="oracle")
    with pytest.raises(ValueError, match="resamples must be at least 10"):
        credit_study(tmp_path, resamples=1, recognizer="oracle")
