"""The reward estimators: rollouts, feature sets, the three kinds, persistence, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.reward import RewardEstimator
from emorl.reward.features import BLIND_DROPPED, FeatureSet, expected_reaction, past_turns
from emorl.reward.training import (
    behaviour_policy,
    collect_rollouts,
    estimators_for,
    fit_estimator,
)

ORACLE = {"recognizer": "oracle"}


@pytest.fixture(scope="module")
def rollouts():
    return collect_rollouts(80, seed=3, env_kwargs=ORACLE, num_envs=8, progress=False)


def _fit(log, info, kind, **kwargs):
    return fit_estimator(
        log,
        kind=kind,
        obs_names=info["obs_names"],
        act_names=info["act_names"],
        labels=info["labels"],
        values=info["values"],
        recognizer=info["recognizer"],
        **kwargs,
    )


def test_rollouts_do_not_depend_on_the_number_of_copies(rollouts) -> None:
    log, info = rollouts
    other, _ = collect_rollouts(80, seed=3, env_kwargs=ORACLE, num_envs=3, progress=False)
    order = np.lexsort((log.step, log.episode))
    other_order = np.lexsort((other.step, other.episode))
    assert np.array_equal(log.acts[order], other.acts[other_order])
    assert np.allclose(log.posteriors[order], other.posteriors[other_order])
    assert sorted(set(log.episode.tolist())) == list(range(80))
    ends = log.outcome != ""
    assert ends.sum() == 80 and set(log.outcome[ends]) <= {
        "success",
        "hangup",
        "closed_early",
        "escalated",
        "turn_limit",
    }
    assert info["recognizer"] == {"name": "oracle", "oracle_confusion": 0.1}
    # the exempt rows are the expected-reaction rule on the logged observation
    rule = expected_reaction(log.obs, log.acts, info["obs_names"], info["act_names"])
    assert np.array_equal(rule, log.exempt) and log.exempt.any()
    # the true effect: bad news is the worst, progress positive
    assert np.nanmean(log.effect[log.exempt]) < -0.5 < 0 < np.nanmax(log.effect)
    first = log.step == 0
    assert np.isnan(log.past_p[first]).all()


def test_two_behaviours_meet_the_same_callers() -> None:
    a, _ = collect_rollouts(6, seed=5, env_kwargs=ORACLE, behaviour="scripted", progress=False)
    b, _ = collect_rollouts(
        6, seed=5, env_kwargs=ORACLE, behaviour="escalate-instead", progress=False
    )
    for call in range(6):
        ga = a.grantable[a.episode == call][0]
        assert ga == b.grantable[b.episode == call][0]
        if ga:  # the policies agree on calls that can be granted: the same call, word for word
            assert np.array_equal(a.acts[a.episode == call], b.acts[b.episode == call])


def test_behaviour_specs_are_checked() -> None:
    names, acts = ["turn"], ["greet", "close"]
    rngs = [np.random.default_rng(0)] * 3
    assert set(behaviour_policy("random", names, acts)(np.zeros((3, 1)), rngs)) <= {0, 1}
    with pytest.raises(ValueError, match=r"EPS must be a number in \[0, 1\]"):
        behaviour_policy("epsilon-scripted:1.5", names, acts)
    with pytest.raises(ValueError, match="expected scripted, random"):
        behaviour_policy("greedy", names, acts)


def test_past_turns_reads_the_call_history() -> None:
    acts = ("greet", "close")
    history = [
        {"act": None, "posteriors": [1, 0, 0, 0]},
        {"act": "greet", "posteriors": [0, 1, 0, 0]},
        {"act": "close", "posteriors": [0, 0, 1, 0]},
    ]
    p, a = past_turns(history, acts, depth=3)
    assert p[0].tolist() == [0, 1, 0, 0] and a[0] == 0  # one turn before the latest
    assert p[1].tolist() == [1, 0, 0, 0] and a[1] == -1  # the opening: no act
    assert np.isnan(p[2]).all() and a[2] == -1


def test_feature_sets_and_the_blind_one(rollouts) -> None:
    log, info = rollouts
    obs_names, act_names = info["obs_names"], info["act_names"]
    obs = FeatureSet.named("obs").transform(log.obs, None, None, obs_names, act_names)
    assert np.array_equal(obs, log.obs)
    h2 = FeatureSet.named("history2")
    x = h2.transform(log.obs, log.past_p, log.past_a, obs_names, act_names)
    assert x.shape[1] == len(h2.columns(obs_names, act_names)) == 60 + 2 * (4 + 1 + 13)
    blind = FeatureSet.named("history1", blind=True)
    columns = blind.columns(obs_names, act_names)
    assert not set(BLIND_DROPPED) & set(columns) and "record_found" in columns
    assert "past1_act_deliver_bad_news" not in columns
    dialogue = FeatureSet.named("dialogue").columns(obs_names, act_names)
    assert not [c for c in dialogue if c.startswith(("p_", "dp_"))] and len(dialogue) == 52
    with pytest.raises(ValueError, match="unknown feature set 'history9'"):
        FeatureSet.named("history9")


@pytest.mark.parametrize("kind", ["eq1", "eq2", "eq2_no_badnews"])
def test_each_kind_fits_reports_held_out_calls_and_round_trips(rollouts, kind, tmp_path) -> None:
    log, info = rollouts
    model = _fit(log, info, kind, feature_sets=("obs", "history1"))
    m = model.metadata["metrics"]
    assert m["split"]["train_calls"] + m["split"]["test_calls"] == 80
    assert m["split"]["test_calls"] == 16
    targets = [f"delta_p_{e}" for e in info["labels"]] if kind == "eq1" else ["reward"]
    assert list(m["held_out"]["r2"]) == targets == list(model.targets)
    assert set(m["feature_sets"]) == {"obs", "history1"} and m["chosen"] in m["feature_sets"]
    assert m["held_out"]["r2_reward_term"] > m["baseline_zero"]["r2_reward_term"]
    assert -1 <= m["held_out"]["corr_reward_level"] <= 1
    assert (model.reaction_coef is None) == (kind == "eq2_no_badnews")
    pred = model.predict(log.obs[:5], log.acts[:5], log.past_p[:5], log.past_a[:5])
    assert pred.shape == (5, len(targets))
    model.save_pretrained(tmp_path / kind)
    config = json.loads((tmp_path / kind / "config.json").read_text())
    assert config["kind"] == kind and config["recognizer"]["name"] == "oracle"
    assert config["feature_set"]["blind_to_bad_news"] == (kind == "eq2_no_badnews")
    assert "Held-out calls" in (tmp_path / kind / "README.md").read_text()
    loaded = RewardEstimator.from_pretrained(tmp_path / kind)
    again = loaded.predict(log.obs[:5], log.acts[:5], log.past_p[:5], log.past_a[:5])
    assert np.allclose(again, pred, atol=1e-4)
    r_est, dp = loaded.estimate(log.obs[0], int(log.acts[0]), log.past_p[0], log.past_a[0])
    assert (dp is not None) == (kind == "eq1")
    assert r_est == pytest.approx(
        float(
            loaded.predict_reward(
                log.obs[0], int(log.acts[0]), log.past_p[0][None], log.past_a[0][None]
            )
        ),
        abs=1e-9,
    )


def test_the_reaction_model_serves_only_unavoidable_bad_news(rollouts) -> None:
    log, info = rollouts
    model = _fit(log, info, "eq2", feature_sets=("obs",))
    rows = np.flatnonzero(log.exempt)[:3]
    with_news = model.predict_reward(log.obs[rows], log.acts[rows])
    other = (int(log.acts[rows][0]) + 1) % len(info["act_names"])
    as_state = model.predict_reward(log.obs[rows], np.full(len(rows), other))
    assert not np.allclose(with_news, as_state)
    # the reaction to unavoidable bad news is expected to be negative
    assert with_news.mean() < as_state.mean()


def test_a_history_feature_set_is_chosen_when_the_target_needs_it(rollouts) -> None:
    log, info = rollouts
    rng = np.random.default_rng(0)
    log = log.subset(np.arange(len(log)))
    past = np.nan_to_num(log.past_p[:, 1], nan=0.25)  # two turns before the latest
    log.posteriors = log.previous + 0.5 * (past - 0.25) + rng.normal(0, 0.01, log.previous.shape)
    model = _fit(log, info, "eq1", feature_sets=("obs", "history2"))
    m = model.metadata["metrics"]
    assert m["chosen"] == "history2" and model.feature_set.history == 2
    assert m["feature_sets"]["history2"]["r2_mean"] > 0.9 > m["feature_sets"]["obs"]["r2_mean"]


def test_bad_fits_and_folders_are_refused(rollouts, tmp_path) -> None:
    log, info = rollouts
    with pytest.raises(ValueError, match="unknown estimator kind 'eq3'"):
        _fit(log, info, "eq3")
    with pytest.raises(ValueError, match="need at least 2"):
        _fit(log.subset(log.episode == 0), info, "eq2")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.json").write_text(json.dumps({"type": "reward-estimator"}))
    (tmp_path / "old" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="estimator format 1.*refit it"):
        RewardEstimator.from_pretrained(tmp_path / "old")
    (tmp_path / "ter").mkdir()
    (tmp_path / "ter" / "config.json").write_text('{"type": "ter"}')
    (tmp_path / "ter" / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="expected 'reward-estimator'"):
        RewardEstimator.from_pretrained(tmp_path / "ter")


def test_estimators_for_caches_by_settings(tmp_path) -> None:
    first = estimators_for(ORACLE, ("eq2",), episodes=20, cache=tmp_path, progress=False)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("eq2-")
    stamp = (folders[0] / "model.safetensors").stat().st_mtime_ns
    again = estimators_for(
        {**ORACLE, "success_bonus": 5.0}, ("eq2",), episodes=20, cache=tmp_path, progress=False
    )
    assert (folders[0] / "model.safetensors").stat().st_mtime_ns == stamp  # task terms: same
    assert np.allclose(first["eq2"].coef, again["eq2"].coef, atol=1e-5)
    estimators_for(
        {**ORACLE, "lingering": 0.5}, ("eq2",), episodes=20, cache=tmp_path, progress=False
    )
    assert len(list(tmp_path.iterdir())) == 2


def test_train_reward_estimator_command(tmp_path, capsys) -> None:
    from emorl.cli import main
    from emorl.envs.emo_dialogue import EmoDialogueEnv

    out = tmp_path / "est"
    code = main(
        [
            "train",
            "reward-estimator",
            "--kind",
            "eq1",
            "--episodes",
            "40",
            "--out",
            str(out),
            "--recognizer",
            "oracle",
            "--env-kwarg",
            "lingering=0.5",
            "--behaviour",
            "epsilon-scripted:0.3",
            "--feature-sets",
            "obs",
            "history1",
            "--no-progress",
        ]
    )
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(metrics["feature_sets"]) == {"obs", "history1"}
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["env_kwargs"] == {"lingering": 0.5, "recognizer": "oracle"}
    assert config["training"]["behaviour"] == "epsilon-scripted:0.3" and config["kind"] == "eq1"
    env = EmoDialogueEnv(recognizer="oracle", reward="eq1", estimator=out, lingering=0.5)
    assert env.estimator is not None and env.estimator.kind == "eq1"
    assert main(["train", "reward-estimator", "--out", str(tmp_path / "x"), "--recognizer",
                 "oracle", "--behaviour", "greedy"]) == 2  # fmt: skip
    assert not (tmp_path / "x").exists()
