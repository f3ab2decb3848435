"""The reward study's YAML spec, its cells and trials, and the aggregation over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emorl.agents.stats import difference, holm
from emorl.agents.study import (
    StudySpec,
    aggregate,
    claims,
    compare_with_level,
    load_study_spec,
    plan,
    premise_verdicts,
    study_markdown,
)


def test_the_shipped_spec_declares_a_one_at_a_time_study() -> None:
    spec = load_study_spec()
    assert spec.name == "study-v1" and spec.design == "one-at-a-time"
    # the arms, cells and seeds docs/study.md fixed before any result
    arms = {"level", "level_exempt", "delta", "eq1", "eq2", "eq2_no_badnews"}
    assert set(spec.arms) == arms
    assert 0.0 in spec.factors["success_bonus"] and len(spec.factors["lingering"]) == 3
    cells = spec.cells()
    primary = {"success_bonus": 0.0, "escalation_cost": 1.0, "lingering": 0.95}
    assert cells[0] == spec.primary_cell == primary
    assert len(cells) == 1 + 2 + 1 + 2
    # every other cell moves exactly one factor away from the primary
    for cell in cells[1:]:
        assert sum(cell[k] != cells[0][k] for k in cell) == 1
    assert spec.seeds_for(cells[0]) >= 10 and all(spec.seeds_for(c) >= 5 for c in cells[1:])
    trials = spec.trials()
    assert len(trials) == len(spec.arms) * (10 + 5 * 5) == plan(spec)["trials"] == 210
    assert trials[0] == {"reward": spec.arms[0], "factors": cells[0], "seed": 0}
    # run order: cell, seed, arm (whole seeds of every arm first)
    assert [t["reward"] for t in trials[: len(spec.arms)]] == list(spec.arms)
    assert {t["seed"] for t in trials[: len(spec.arms)]} == {0}
    assert plan(spec)["estimator_fits"] == 3 * 3  # three kinds, three lingering levels
    assert load_study_spec(None, timesteps=1000).timesteps == 1000


def test_a_full_design_crosses_every_level() -> None:
    spec = StudySpec(arms=("eq2", "level"), factors={"a": [1, 2], "b": [3, 4, 5]},
                     primary={"a": 2, "b": 4}, seeds_primary=3, seeds_other=2)  # fmt: skip
    cells = spec.cells()
    assert len(cells) == 6 and cells[0] == {"a": 2, "b": 4}
    assert len(spec.trials()) == 2 * (3 + 5 * 2)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("arms: [delta_est]", "renamed 'eq2'"),
        ("arms: [eq2]\nfactors: {lingering: 0.5}", "factors.lingering: give a non-empty list"),
        ("factors: {lingering: [0, 0.5]}\nprimary: {lingering: 0.7}", "primary.lingering: 0.7"),
        ("factors: {a: [1]}\ndesign: one-at-a-time", "one-at-a-time needs primary levels"),
        ("timesteps: -5", "timesteps must be a positive integer"),
        ("recognizer: telepathy", "recognizer must be one of"),
        ("seeds: {primary: 10, others: 5}", "seeds must be a number or a mapping"),
        ("estimators: {episodes: 10, kind: eq1}", "estimators takes episodes"),
        ("speed: fast", "unknown field 'speed'"),
        ("factors: {reward: [eq1]}", "factors: 'reward' is set by the study"),
        (
            "factors: {a: [1, 2]}\nprimary: {a: 1}\ndesign: listed\ncells: [{a: 3}]",
            "cells\\[0\\].a: 3 is not one of its levels",
        ),
        (
            "factors: {a: [1, 2], b: [3]}\nprimary: {a: 1, b: 3}\ndesign: listed\ncells: [{a: 2}]",
            "must give a level of every factor",
        ),
        ("factors: {a: [1, 2]}\ncells: [{a: 2}]", "cells are only read with design: listed"),
        ("cells: {a: 2}", "cells must be a list of mappings"),
        ("premise: 3", "premise must be a premise.json path"),
        ("timesteps: later", "timesteps must be a positive integer"),
    ],
)
def test_bad_specs_are_refused_naming_the_file_and_field(tmp_path: Path, text: str, match) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_study_spec(path)
    with pytest.raises(FileNotFoundError, match="study spec not found"):
        load_study_spec(tmp_path / "missing.yml")


def _result(success: float, bad: float, mood: float) -> dict:
    point = lambda v: {"value": v, "low": v, "high": v, "method": "none"}  # noqa: E731
    return {
        "success_rate": point(success),
        "bad_news_success_rate": point(bad),
        "final_mood": point(mood),
        "bad_news_final_mood": point(mood - 0.1),
        "hangup_rate": point(0.0),
        "turns": point(8.0),
        "true_reward": point(0.3),
    }


def test_seeds_aggregate_with_bootstrap_intervals_and_the_claim_is_tested() -> None:
    rng = np.random.default_rng(0)
    eq2 = [_result(0.9, 0.8 + 0.05 * rng.random(), 0.5 + 0.02 * rng.random()) for _ in range(6)]
    level = [_result(0.6, 0.3 + 0.05 * rng.random(), 0.5 + 0.02 * rng.random()) for _ in range(6)]
    row = aggregate("eq2", eq2)
    assert row["seeds"] == 6 and row["bad_news_success_rate"]["method"].startswith("bootstrap")
    assert row["bad_news_success_rate"]["low"] <= row["bad_news_success_rate"]["value"]
    assert (
        row["success_rate"]["method"] == "bootstrap-percentile" or row["success_rate"]["low"] == 0.9
    )
    claim = claims({"eq2": eq2, "level": level}, primary=True, dilemma=True)["eq2"]
    assert claim["tested"] and claim["significant"] and claim["verdict"] == "supported"
    assert claim["confidence"] == 0.975 and claim["p_holm"] >= claim["p_value"]
    assert claim["bad_news_success_rate"]["low"] > 0 and not claim["trades_mood"]
    assert not compare_with_level({"eq2": eq2}, "eq2")["tested"]
    # the same numbers in a cell without the dilemma read as not testable
    untestable = claims({"eq2": eq2, "level": level}, primary=False, dilemma=False)["eq2"]
    assert untestable["verdict"].startswith("not testable") and untestable["exploratory"]
    # a win bought with a lower bad-news mood is reported as such
    sour = [_result(0.9, 0.85, 0.3) for _ in range(6)]
    traded = claims({"eq2": sour, "level": level}, primary=False, dilemma=True)["eq2"]
    assert traded["trades_mood"] and traded["verdict"].startswith("higher success, traded")
    settings = {**StudySpec(arms=("eq2", "level")).as_dict(), "plan": {"trials": 12},
                "wall_seconds": 60.0}  # fmt: skip
    cells = [{"cell": "(defaults)", "primary": True, "summary": [row, aggregate("level", level)],
              "baselines": [], "claim": {"eq2": claim}}]  # fmt: skip
    text = study_markdown(settings, cells)
    assert "## Primary cell: (defaults)" in text and "| eq2 | 6 |" in text
    assert "eq2 − level: success on bad-news calls" in text and "**supported**" in text
    assert "(97.5 %), Holm-adjusted p" in text


def test_difference_is_a_two_sample_bootstrap_and_holm_steps_down() -> None:
    d = difference([1.0, 1.2, 1.1], [0.0, 0.1, 0.2], confidence=0.95)
    assert d["difference"] == pytest.approx(1.0) and 0.5 < d["low"] < 1.0 < d["high"] < 1.5
    assert d["method"].startswith("bootstrap") and d["p_value"] < 0.01
    same = difference([0.5, 0.6, 0.4], [0.6, 0.5, 0.4])
    assert same["low"] < 0 < same["high"] and same["p_value"] > 0.5
    flat = difference([1.0, 1.0], [1.0, 1.0])
    assert flat["p_value"] is None and flat["low"] == flat["high"] == 0.0
    assert holm([0.01, 0.04]) == pytest.approx([0.02, 0.04])
    assert holm([0.04, 0.01]) == pytest.approx([0.04, 0.02])
    assert holm([0.03, 0.02]) == pytest.approx([0.04, 0.04])  # monotone step-down


def test_a_listed_design_runs_the_primary_then_the_listed_cells(tmp_path: Path) -> None:
    path = tmp_path / "v2.yml"
    path.write_text(
        "arms: [eq2, level]\nfactors: {expected_reaction: [1.5, null], lingering: [0.95]}\n"
        "primary: {expected_reaction: 1.5, lingering: 0.95}\ndesign: listed\n"
        "cells: [{expected_reaction: null, lingering: 0.95}]\nseeds: {primary: 3, other: 1}\n"
        "timesteps: pilot\n"
    )
    spec = load_study_spec(path)
    assert spec.cells() == [
        {"expected_reaction": 1.5, "lingering": 0.95},
        {"expected_reaction": None, "lingering": 0.95},
    ]
    assert plan(spec)["trials"] == 2 * (3 + 1) and plan(spec)["environment_steps"] is None
    # the premise check's verdicts are matched to the cells (None: the fitted default)
    level = lambda clear: {"level": {"clearly_prefers_avoiding": clear}}  # noqa: E731
    premise = tmp_path / "premise.json"
    premise.write_text(json.dumps({"cells": [
        {"factors": {"expected_reaction": 1.5, "lingering": 0.95}, "variants": level(True)},
        {"factors": {"lingering": 0.95}, "variants": level(False)},
        {"factors": {"lingering": 0.5}, "variants": level(True)},
    ]}))  # fmt: skip
    verdicts = premise_verdicts(spec.replace(premise=(str(premise),)))
    assert verdicts == {
        "expected_reaction=1.5, lingering=0.95": True,
        "expected_reaction=fitted, lingering=0.95": False,
    }
    with pytest.raises(FileNotFoundError, match="run emorl study premise first"):
        premise_verdicts(spec.replace(premise=(str(tmp_path / "none.json"),)))


def test_the_shipped_v2_spec_follows_amendment_1() -> None:
    spec = load_study_spec(Path("emorl/agents/hyperparams/study-v2.yml"))
    assert spec.timesteps == "pilot" and spec.design == "listed"
    primary = {"expected_reaction": 1.5, "lingering": 0.95, "escalation_cost": 0.0,
               "success_bonus": 0.0}  # fmt: skip
    assert spec.cells()[0] == primary
    v1 = load_study_spec().primary_cell
    assert spec.cells()[1] == {**v1, "expected_reaction": None}
    assert plan(spec)["trials"] == 6 * (10 + 5)


def test_the_speech_spec_repeats_the_primary_comparison_on_v2s_budget() -> None:
    from emorl.agents.train import resolve_env_kwargs

    spec = load_study_spec(Path("emorl/agents/hyperparams/study-v2-speech.yml"))
    text = load_study_spec(Path("emorl/agents/hyperparams/study-v2.yml"))
    assert spec.recognizer == "bimodal" and spec.arms == ("level", "eq1", "eq2")
    assert spec.cells() == [text.cells()[0]] and spec.timesteps == 175_000
    assert plan(spec)["trials"] == 3 * 5
    kwargs = {**spec.env_kwargs, "recognizer": spec.recognizer}
    resolved = resolve_env_kwargs("EmoDialogue-v1", None, kwargs, progress=False)
    assert resolved["bimodal_cache"].endswith("bimodal-posteriors")  # shared on disk
    asr = resolve_env_kwargs("EmoDialogue-v1", None, {**kwargs, "transcripts": "asr"}, False)
    assert "bimodal_cache" not in asr
    own = resolve_env_kwargs("EmoDialogue-v1", None, {**kwargs, "bimodal_model": object()}, False)
    assert "bimodal_cache" not in own  # another model: its identity is the caller's to give


def test_study_run_dry_run_prints_the_plan(tmp_path: Path, capsys) -> None:
    from emorl.cli import main

    path = tmp_path / "tiny.yml"
    path.write_text("arms: [eq2, level]\nfactors: {lingering: [0.0, 0.95]}\nseeds: 2\n")
    assert main(["study", "run", "--spec", str(path), "--timesteps", "64", "--dry-run"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["trials"] == 2 * 2 * 2 and out["plan"]["environment_steps"] == 8 * 64
    assert out["spec"]["name"] == "tiny" and out["plan"]["estimator_fits"] == 2


def test_finished_trials_are_read_from_the_study_folder_without_ray(tmp_path: Path) -> None:
    from emorl.agents.tune import RESULT_NAME, experiment_name, finished_trials

    configs = [{"reward": r, "factors": {"lingering": 0.95}, "seed": 0} for r in ("eq2", "level")]
    fixed = {"algo": "ppo", "timesteps": 64}
    folder = tmp_path / experiment_name({"fixed": fixed, "configs": configs})
    done = folder / "eq2_lingering=0.95_seed0_x" / "checkpoint_000000"
    done.mkdir(parents=True)
    (done / RESULT_NAME).write_text(json.dumps({**configs[0], "success_rate": {"value": 1.0}}))
    half = folder / "level_lingering=0.95_seed0_y" / "checkpoint_000000"
    half.mkdir(parents=True)
    (half / RESULT_NAME).write_text("{")  # still being copied: not finished
    found = finished_trials(configs, fixed, out=tmp_path)
    assert found[0]["success_rate"] == {"value": 1.0} and found[0]["run"] == str(done)
    assert found[1] is None
    # another study's settings never read these trials
    assert finished_trials(configs, {**fixed, "timesteps": 65}, out=tmp_path) == [None, None]


def test_training_throughput_reads_each_trials_run_json(tmp_path: Path) -> None:
    from emorl.agents.study import training_throughput

    runs = []
    for i, rate in enumerate((900.0, 1000.0, 40.0)):
        run = tmp_path / f"t{i}"
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"steps_per_second": rate}), encoding="utf-8")
        runs.append({"run": str(run)})
    runs.append({"run": str(tmp_path / "missing")})  # a run folder without run.json: skipped
    assert training_throughput(runs) == {"median": 900.0, "min": 40.0, "max": 1000.0}
    assert training_throughput(runs[-1:]) is None


def test_a_listed_design_without_a_primary_runs_only_its_cells_all_exploratory() -> None:
    spec = load_study_spec(Path("emorl/agents/hyperparams/study-v2-factors.yml"))
    v2 = load_study_spec(Path("emorl/agents/hyperparams/study-v2.yml")).cells()[0]
    assert spec.primary_cell is None and spec.arms == ("level", "eq1", "eq2")
    cells = spec.cells()
    # study-v1's deferred levels, each moved alone from study-v2's primary cell
    assert len(cells) == 5 and v2 not in cells
    assert all(sum(c[k] != v2[k] for k in c) == 1 for c in cells)
    assert {c["lingering"] for c in cells} | {v2["lingering"]} == {0.0, 0.5, 0.95}
    assert all(spec.seeds_for(c) == 5 for c in cells) and plan(spec)["trials"] == 75
    assert spec.timesteps == 175_000  # study-v2's pilot budget
    with pytest.raises(ValueError, match="needs a primary cell or cells"):
        StudySpec(arms=("level",), factors={"a": [1]}, design="listed")
    # every cell is exploratory: intervals at 95 %, no Holm adjustment
    value = lambda v: {"value": v}  # noqa: E731
    runs = {arm: [{"bad_news_success_rate": value(0.1 * s), "success_rate": value(0.5),
                   "final_mood": value(0.1), "bad_news_final_mood": value(0.0)}
                  for s in range(3)]
            for arm in ("level", "eq2")}  # fmt: skip
    claim = claims(runs, primary=False, dilemma=True)["eq2"]
    assert claim["exploratory"] and claim["confidence"] == 0.95 and "p_holm" not in claim


def test_comparisons_across_cells_are_plotted_and_linked(tmp_path: Path) -> None:
    from PIL import Image

    from emorl.agents.report import comparison_forest

    rng = np.random.default_rng(1)
    cells = []
    for k, (name, gain) in enumerate((("lingering=0.5", 0.3), ("lingering=0", 0.0))):
        level = [_result(0.5, 0.1 + 0.05 * rng.random(), 0.2) for _ in range(5)]
        eq2 = [_result(0.5, 0.1 + gain + 0.05 * rng.random(), 0.2) for _ in range(5)]
        claim = claims({"eq2": eq2, "level": level}, primary=False, dilemma=k == 0)
        cells.append({"cell": name, "primary": False, "summary": [], "baselines": [],
                      "claim": claim})  # fmt: skip
    assert cells[0]["claim"]["eq2"]["bad_news_success_rate"]["low"] > 0
    png = comparison_forest(cells, tmp_path / "comparisons.png", "two cells")
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[1] > 100
    settings = {**StudySpec(arms=("eq2", "level")).as_dict(), "plan": {"trials": 20},
                "wall_seconds": 60.0}  # fmt: skip
    text = study_markdown(settings, cells)
    assert "## Cell: lingering=0.5" in text and "![comparisons by cell](comparisons.png)" in text
    assert "(95 %), p (unadjusted)" in text


def test_learning_curves_get_one_row_per_varied_cell(tmp_path: Path) -> None:
    from PIL import Image

    from emorl.agents.report import learning_curve_grid
    from emorl.agents.study import varied_factors

    cells = [{"bonus": 0.0, "lingering": 0.5}, {"bonus": 0.0, "lingering": 0.0}]
    assert varied_factors(cells) == ["lingering"]
    groups = {}
    for cell in cells:
        curve = tmp_path / f"curve-{cell['lingering']}.json"
        rows = [[100.0 * i, i % 2, 8.0, 0.1 * i] for i in range(1, 41)]
        curve.write_text(json.dumps({"rows": rows}))
        groups[f"lingering={cell['lingering']}"] = {"level": [curve], "eq2": [curve]}
    png = learning_curve_grid(groups, tmp_path / "curves.png", "two rows")
    with (
        Image.open(png) as one_row,
        Image.open(
            learning_curve_grid({"": groups["lingering=0.5"]}, tmp_path / "one.png")
        ) as single,
    ):
        assert one_row.size[1] > 1.6 * single.size[1]  # a row of panels per cell
