"""The Ray modules without a running Ray: grids, names, settings, errors, the extra's hint.

The tests that start Ray are in ``test_ray_cluster.py`` (a two-node loopback cluster)
and ``test_agents.py`` (the reward study on a local Ray).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from emorl.agents.tune import experiment_name, same_result, trial_configs


def test_trial_grid_is_in_report_order_with_factor_levels() -> None:
    grid = trial_configs(("eq2", "level"), seeds=2, factors={"success_bonus": [0, 10]})
    assert len(grid) == 8
    assert grid[0] == {"reward": "eq2", "factors": {"success_bonus": 0}, "seed": 0}
    assert grid[1]["seed"] == 1 and grid[2]["factors"] == {"success_bonus": 10}
    assert grid[4]["reward"] == "level"
    assert trial_configs(("none",), seeds=1) == [{"reward": "none", "factors": {}, "seed": 0}]


def test_experiment_names_follow_the_settings() -> None:
    a = experiment_name({"timesteps": 64, "configs": [1, 2]})
    assert a == experiment_name({"configs": [1, 2], "timesteps": 64}) and a.startswith("trials-")
    assert a != experiment_name({"timesteps": 128, "configs": [1, 2]})


def test_same_result_ignores_only_place() -> None:
    a = {"success_rate": {"value": 0.5}, "seed": 0, "run": "/x", "node": "n1"}
    assert same_result(a, {**a, "run": "/y", "node": "n2"})
    assert not same_result(a, {**a, "success_rate": {"value": 0.6}})


def test_without_ray_the_error_says_how_to_install_it(monkeypatch, tmp_path: Path) -> None:
    from emorl.agents.study import reward_study
    from emorl.scale import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'emorl\[ray\]'"):
        require_ray()
    with pytest.raises(ImportError, match=r"emorl\[ray\]"):
        reward_study(seeds=1, timesteps=8, recognizer="oracle", out=tmp_path, progress=False)
    from emorl.agents.rllib import train_rllib

    with pytest.raises(ImportError, match=r"emorl\[ray\]"):
        train_rllib(out=tmp_path, progress=False)


def test_rllib_settings_follow_the_sb3_yaml() -> None:
    from emorl.agents.config import load_hyperparams
    from emorl.agents.rllib import rllib_settings

    config = load_hyperparams("ppo", "EmoDialogue-v1")
    s = rllib_settings(config, env_runners=2)
    assert s["train_batch_size_per_learner"] == config["n_steps"] * config["n_envs"]
    assert s["minibatch_size"] == config["batch_size"] and s["num_epochs"] == config["n_epochs"]
    assert s["entropy_coeff"] == config["ent_coef"] and s["lr"] == config["learning_rate"]
    assert s["fcnet_hiddens"] == config["policy_kwargs"]["net_arch"]
    assert s["num_envs_per_env_runner"] * 2 == config["n_envs"] and s["num_env_runners"] == 2
    assert not s["use_kl_loss"] and s["vf_clip_param"] == float("inf")


def test_rllib_rows_spread_calls_over_the_iteration() -> None:
    from emorl.agents.rllib import _rows

    rows = _rows([[1, 0, 0.5, 3.0], [0, 1, -0.2, -1.0]], 100, 200)
    assert [r[0] for r in rows] == [150.0, 200.0] and rows[1][1:] == [0.0, 1.0, -0.2, -1.0]
    assert _rows([], 0, 10) == []


def test_model_folders_that_are_not_rllib_checkpoints_are_refused(tmp_path: Path) -> None:
    from emorl.agents.evaluate import load_model
    from emorl.agents.rllib import is_rllib_checkpoint

    assert not is_rllib_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="not an RLlib checkpoint"):
        load_model(tmp_path)
    (tmp_path / "rllib_checkpoint.json").write_text("{}")
    assert is_rllib_checkpoint(tmp_path)


def test_rllib_policy_acts_on_the_most_probable_action() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("ray.rllib")
    from ray.rllib.core.columns import Columns

    from emorl.agents.rllib import RLlibPolicy

    class Module:
        def forward_inference(self, batch):
            assert batch[Columns.OBS].shape == (1, 3)
            return {Columns.ACTION_DIST_INPUTS: torch.tensor([[0.1, 2.0, -1.0]])}

    policy = RLlibPolicy(Module())
    assert policy(np.zeros(3, dtype=np.float32)) == 1
    assert policy.predict(np.zeros(3), deterministic=True) == (1, None)


def test_factor_options_parse_json_levels() -> None:
    from emorl.cli.agents import parse_factors

    assert parse_factors(["success_bonus=0,10.5", "x=a,b"]) == {
        "success_bonus": [0, 10.5],
        "x": ["a", "b"],
    }
    with pytest.raises(ValueError, match="NAME=V1,V2"):
        parse_factors(["oops"])


def test_scale_functions_check_their_arguments_before_starting_anything(tmp_path) -> None:
    pytest.importorskip("ray.data")
    from emorl.scale.asr import transcribe_files
    from emorl.scale.data import BatchActor, map_rows

    with pytest.raises(ValueError, match="errors"):
        transcribe_files([], object(), errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        map_rows([{"a": 1}], BatchActor, workers=0)
    assert map_rows([], BatchActor) == []


def test_train_agent_options_reach_rllib(monkeypatch, tmp_path: Path) -> None:
    import argparse

    from emorl.agents import rllib
    from emorl.agents.train import add_train_arguments, train_from_args

    seen = {}
    monkeypatch.setattr(rllib, "train_rllib", lambda env, **kw: seen.update(kw, env=env) or 7)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = ["--engine", "rllib", "--env-runners", "3", "--recognizer", "bimodal", "--seed", "2"]
    assert train_from_args(parser.parse_args([*argv, "--out", str(tmp_path)])) == 7
    assert seen["env_runners"] == 3 and seen["env_kwargs"] == {"recognizer": "bimodal"}
    assert seen["seed"] == 2 and seen["address"] is None
    with pytest.raises(ValueError, match="PPO"):
        train_from_args(parser.parse_args([*argv, "--algo", "dqn"]))


def test_an_interrupted_trial_continues_from_its_partial_checkpoint(tmp_path: Path) -> None:
    import shutil

    from ray import tune

    from emorl.agents.tune import PARTIAL_NAME, _restore_partial, run_trial

    config = {
        "algo": "ppo", "timesteps": 128, "recognizer": "oracle", "episodes": 2,
        "env_kwargs": {"estimator": None}, "reward": "level", "factors": {}, "seed": 0,
        "checkpoint_steps": 48,
    }  # fmt: skip
    saved: list[Path] = []

    def keep(path: Path) -> None:  # what tune_trial reports, as a Tune checkpoint folder
        folder = tmp_path / f"reported-{len(saved)}" / PARTIAL_NAME
        (folder / "checkpoints").mkdir(parents=True)
        shutil.copy2(path, folder / "checkpoints" / path.name)
        shutil.copy2(path.parent.parent / "curve.json", folder / "curve.json")
        saved.append(folder.parent)

    whole = run_trial(config, tmp_path / "whole", on_checkpoint=keep)
    assert len(saved) >= 2 and "resumed_at_step" not in whole  # every 48 steps
    resume = _restore_partial(tune.Checkpoint.from_directory(str(saved[0])), tmp_path / "r")
    assert resume is not None and resume.name == "model_48_steps.zip"
    resumed = run_trial(config, tmp_path / "resumed", resume=resume)
    assert resumed["resumed_at_step"] == 48
    run = json.loads((Path(resumed["run"]) / "run.json").read_text(encoding="utf-8"))
    assert run["timesteps"] >= 128 and run["resumed_from"] == str(resume)
    final = tmp_path / "final"
    final.mkdir()
    (final / "trial_result.json").write_text("{}", encoding="utf-8")
    assert _restore_partial(tune.Checkpoint.from_directory(str(final)), tmp_path / "f") is None
    assert _restore_partial(None, tmp_path / "n") is None
