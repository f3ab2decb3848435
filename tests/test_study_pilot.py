"""The study's pilot: the timestep budget read from training curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emorl.agents.pilot import choose_budget, pilot_budget, pilot_markdown, window_means


def _curve(path: Path, returns_by_window: list[float], per_window: int = 4) -> Path:
    rows = []
    for k, value in enumerate(returns_by_window):
        for i in range(per_window):
            step = k * 100 + (i + 1) * 100 // per_window
            rows.append([step, 1.0, 0.0, 0.2, value + (0.01 if i % 2 else -0.01)])
    path.write_text(json.dumps({"columns": ["timesteps", "success", "hangup", "final_mood",
                                            "return"], "rows": rows}))  # fmt: skip
    return path


def test_window_means_bin_training_calls_by_the_step_they_ended(tmp_path: Path) -> None:
    curve = _curve(tmp_path / "c.json", [1.0, 2.0, 3.0])
    means = window_means(curve, total=400, window=100)
    assert means[:3] == pytest.approx([1.0, 2.0, 3.0]) and np.isnan(means[3])


def test_the_budget_is_where_every_arm_stays_near_its_final_value(tmp_path: Path) -> None:
    fast = [_curve(tmp_path / f"fast{s}.json", [1.0, 3.9, 4.0, 4.05, 4.0]) for s in range(2)]
    # slow arm: touches its final value early, leaves it, and settles at the end
    slow = [_curve(tmp_path / f"slow{s}.json", [2.0, 0.5, 1.2, 2.0, 2.02]) for s in range(2)]
    near_zero = [_curve(tmp_path / "zero.json", [-0.5, 0.03, -0.02, 0.01, 0.0])]
    found = choose_budget({"fast": fast, "slow": slow, "zero": near_zero}, 500, 100)
    assert found["arms"]["fast"]["budget"] == 200  # 3.9 is within 5 % of 4.0
    assert found["arms"]["slow"]["budget"] == 400  # the early touch does not count
    assert found["arms"]["zero"]["budget"] == 200 and found["arms"]["zero"]["band"] == 0.05
    assert found["timesteps"] == 400
    text = pilot_markdown({**found, "study": "s", "cell": "c", "seeds": [900, 901],
                           "wall_seconds": 6.0})  # fmt: skip
    assert "**Budget: 400 steps**" in text and "| slow |" in text
    with pytest.raises(ValueError, match="multiple of the window"):
        choose_budget({"fast": fast}, 450, 100)


def test_a_study_without_its_pilot_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run `emorl study pilot"):
        pilot_budget(tmp_path)
    (tmp_path / "pilot").mkdir()
    (tmp_path / "pilot" / "pilot.json").write_text("{}")
    with pytest.raises(ValueError, match="not a pilot result"):
        pilot_budget(tmp_path)
    (tmp_path / "pilot" / "pilot.json").write_text(json.dumps({"timesteps": 75000}))
    assert pilot_budget(tmp_path) == 75000
