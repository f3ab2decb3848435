"""Agents: hyperparameters, training runs, evaluation with intervals, the reward study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emorl.agents import stats

TINY_YAML = """
default:
  n_envs: 1
  n_timesteps: 128
  policy: MlpPolicy
  eval_freq: 64
  eval_episodes: 3
  checkpoint_freq: 64
EmoDialogue-v1:
  n_steps: 64
  batch_size: 32
  n_epochs: 1
  policy_kwargs:
    net_arch: [16]
"""
ORACLE = {"recognizer": "oracle"}


@pytest.fixture()
def tiny_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "ppo.yml"
    path.write_text(TINY_YAML)
    return path


def test_wilson_and_t_intervals() -> None:
    low, high = stats.wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-3)
    low, high = stats.wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-3)
    mean, low, high = stats.mean_t([1.0, 2.0, 3.0])
    assert mean == 2.0 and low == pytest.approx(2 - 2.484, abs=1e-3) and high > 4.4
    assert stats.mean_t([5.0]) == (5.0, 5.0, 5.0)


def test_hyperparams_merge_default_and_env_entry(tiny_yaml: Path) -> None:
    from emorl.agents.config import load_hyperparams, split_config

    config = load_hyperparams("ppo", "EmoDialogue-v1", tiny_yaml)
    assert config["n_steps"] == 64 and config["n_timesteps"] == 128
    run, algo = split_config(config)
    assert run["eval_freq"] == 64 and algo["policy_kwargs"] == {"net_arch": [16]}
    shipped = load_hyperparams("ppo", "EmoDialogue-v1")
    assert shipped["policy"] == "MlpPolicy" and shipped["n_timesteps"] > 0
    for algo_name in ("a2c", "dqn"):
        assert load_hyperparams(algo_name, "SomethingElse-v0")["n_envs"] == 1


def test_bad_hyperparams_name_file_and_key(tmp_path: Path) -> None:
    from emorl.agents.config import load_hyperparams

    bad = tmp_path / "bad.yml"
    bad.write_text("default:\n  learnin_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"bad\.yml.*'learnin_rate'"):
        load_hyperparams("ppo", "EmoDialogue-v1", bad)
    bad.write_text("default: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_hyperparams("ppo", "EmoDialogue-v1", bad)
    bad.write_text("default:\n  learning_rate: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ValueError, match="not valid YAML"):  # safe_load refuses objects
        load_hyperparams("ppo", "EmoDialogue-v1", bad)
    with pytest.raises(ValueError, match="unknown algo 'sac'"):
        load_hyperparams("sac", "EmoDialogue-v1")
    with pytest.raises(FileNotFoundError, match="missing.yml"):
        load_hyperparams("ppo", "EmoDialogue-v1", tmp_path / "missing.yml")


def test_train_writes_a_complete_resumable_run(tmp_path: Path, tiny_yaml: Path) -> None:
    from emorl.agents.train import train

    run = train(
        "ppo",
        reward="level",
        seed=3,
        out=tmp_path,
        hyperparams=tiny_yaml,
        env_kwargs=ORACLE,
        progress=False,
    )
    assert run.name.startswith("EmoDialogue-v1__ppo__level__3__")
    for name in ("model.zip", "run.json", "curve.json", "evaluations.json", "best_model.zip"):
        assert (run / name).is_file(), name
    assert (run / "tb").is_dir() and list((run / "checkpoints").glob("model_*.zip"))
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "done" and meta["timesteps"] == 128
    assert meta["env_kwargs"] == {"recognizer": "oracle", "reward": "level"}
    assert meta["config"]["n_steps"] == 64 and meta["versions"]["emorl"]
    assert not list(run.glob(".*.tmp"))
    checkpoint = sorted((run / "checkpoints").glob("model_*.zip"))[0]
    resumed = train(
        "ppo",
        reward="level",
        seed=3,
        out=tmp_path / "again",
        hyperparams=tiny_yaml,
        env_kwargs=ORACLE,
        resume=checkpoint,
        timesteps=192,
        progress=False,
    )
    assert json.loads((resumed / "run.json").read_text())["timesteps"] == 192
    # the resumed run's curve starts with the interrupted run's calls up to the checkpoint
    first = json.loads((run / "curve.json").read_text())["rows"]
    again = json.loads((resumed / "curve.json").read_text())["rows"]
    steps = int(checkpoint.stem.split("_")[1])
    assert again[: len([r for r in first if r[0] <= steps])] == [r for r in first if r[0] <= steps]


@pytest.mark.parametrize("algo", ["a2c", "dqn"])
def test_other_algorithms_train(tmp_path: Path, algo: str) -> None:
    from emorl.agents.train import train

    overrides = {"eval_freq": 0, "checkpoint_freq": 0, "policy_kwargs": {"net_arch": [8]}}
    if algo == "dqn":
        overrides |= {"learning_starts": 16, "buffer_size": 500}
    run = train(
        algo,
        reward="delta",
        timesteps=64,
        out=tmp_path,
        env_kwargs=ORACLE,
        progress=False,
        tensorboard=False,
        overrides=overrides,
    )
    assert (run / "model.zip").is_file()


def test_train_rejects_bad_input(tmp_path: Path) -> None:
    from emorl.agents.train import train

    with pytest.raises(ValueError, match="unknown algo"):
        train("trpo", out=tmp_path)
    with pytest.raises(ValueError, match="unknown reward"):
        train("ppo", reward="joy", out=tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.zip"):
        train("ppo", out=tmp_path, resume=tmp_path / "nope.zip")
    with pytest.raises(ValueError, match="CUDA is not available"):
        train("ppo", out=tmp_path, env_kwargs=ORACLE, progress=False, device="cuda")
    assert not list(tmp_path.iterdir())  # nothing left behind


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("  n_steps: -5", "n_steps must be an integer"),
        ("  learning_rate: .nan", "learning_rate must be a number"),
        ("  gamma: 1.5", "gamma must be a number"),
        ("  batch_size: 2.5", "batch_size must be an integer"),
    ],
)
def test_bad_numbers_in_the_yaml_leave_no_run_folder(tmp_path: Path, line: str, match: str) -> None:
    from emorl.agents.train import train

    yaml_path = tmp_path / "bad.yml"
    yaml_path.write_text(f"default:\n{line}\n")
    out = tmp_path / "runs"
    with pytest.raises(ValueError, match=match):
        train("ppo", out=out, hyperparams=yaml_path, env_kwargs=ORACLE, progress=False)
    assert not out.exists()


def test_hyperparameters_the_algorithm_refuses_leave_no_run_folder(tmp_path: Path) -> None:
    from emorl.agents.train import train

    yaml_path = tmp_path / "bad.yml"
    yaml_path.write_text("default:\n  n_steps: 64\n  batch_size: 1\n  policy: NoSuchPolicy\n")
    out = tmp_path / "runs"
    with pytest.raises(ValueError, match="refused the hyperparameters"):
        train("ppo", out=out, hyperparams=yaml_path, env_kwargs=ORACLE, progress=False)
    assert not out.exists()


def test_baselines_are_deterministic_and_ordered() -> None:
    from emorl.agents.evaluate import evaluate_policy

    scripted = evaluate_policy("scripted", env_kwargs=ORACLE, episodes=20)
    rnd = evaluate_policy("random", env_kwargs=ORACLE, episodes=20)
    assert rnd == evaluate_policy("random", env_kwargs=ORACLE, episodes=20)
    assert scripted["success_rate"]["value"] > rnd["success_rate"]["value"]
    assert scripted["final_mood"]["value"] > rnd["final_mood"]["value"]
    for key in ("success_rate", "hangup_rate", "final_mood", "turns", "true_reward"):
        assert rnd[key]["low"] <= rnd[key]["value"] <= rnd[key]["high"]
    assert scripted["bad_news_episodes"] > 0


def test_cli_evaluates_a_trained_model_and_names_missing_files(
    tmp_path: Path, tiny_yaml: Path, capsys
) -> None:
    from emorl.cli import main

    assert (
        main(
            [
                "train",
                "agent",
                "--recognizer",
                "oracle",
                "--hyperparams",
                str(tiny_yaml),
                "--out",
                str(tmp_path),
                "--no-progress",
                "--no-tensorboard",
            ]
        )
        == 0
    )
    run = Path(capsys.readouterr().out.strip().splitlines()[-1])
    model = run / "model.zip"
    assert main(["evaluate", "agent", "--model", str(model), "--episodes", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 5 and 0 <= result["success_rate"]["value"] <= 1
    assert main(["evaluate", "agent", "--model", str(tmp_path / "gone.zip"), "--json"]) == 2
    assert "gone.zip" in capsys.readouterr().err
    assert main(["train", "agent", "--hyperparams", str(tmp_path / "no.yml")]) == 2
    assert "no.yml" in capsys.readouterr().err


def test_shipped_posteriors_expand_into_a_cache(tmp_path: Path, monkeypatch) -> None:
    from emorl.envs.cache import default_ter_cache, ensure_ter_cache
    from emorl.envs.recognition import TextRecognizer

    monkeypatch.setenv("EMORL_CACHE", str(tmp_path))
    path = ensure_ter_cache(progress=False)
    assert path == default_ter_cache() and path.parent == tmp_path
    recognizer = TextRecognizer(cache_path=path)  # refuses a cache of another model
    assert len(recognizer.cache) > 9000 and recognizer._model is None
    row = next(iter(recognizer.cache.values()))
    assert np.isclose(row.sum(), 1.0, atol=1e-4)


@pytest.mark.ray
@pytest.mark.allow_hosts(["127.0.0.1"])  # Ray Tune talks to its local processes over TCP
def test_reward_study_writes_report_and_figures(tmp_path: Path) -> None:
    pytest.importorskip("ray.tune")
    from emorl.agents.study import reward_study

    settings = dict(
        seeds=2,
        timesteps=64,
        rewards=("eq2", "level"),
        recognizer="oracle",
        episodes=4,
        out=tmp_path,
        progress=False,
        env_kwargs={"estimator": None},
    )
    report = reward_study(**settings)
    text = report.read_text()
    assert "| eq2 |" in text and "| scripted |" in text
    assert "eq2 − level: success on bad-news calls" in text
    assert (tmp_path / "bars.png").stat().st_size > 1000
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    data = json.loads((tmp_path / "study.json").read_text())
    cell = data["cells"][0]
    assert cell["claim"]["eq2"]["tested"] and [r["seeds"] for r in cell["summary"]] == [2, 2]
    level = [r for r in data["runs"] if r["reward"] == "level"]
    assert len(level) == 2
    first = Path(level[0]["run"])
    assert first.is_relative_to(tmp_path) and (first / "model.zip").is_file()

    # a rerun with the same settings restores the Tune experiment: no agent is trained again
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("model.zip")}
    reward_study(**settings)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("model.zip")} == stamps
    again = json.loads((tmp_path / "study.json").read_text())
    assert again["runs"] == data["runs"]
