"""The reward variants (eq. 1, eq. 2, eq. 2 blind to bad news, delta, level, level_exempt,
none) and the task terms, on their own and inside EmoDialogue-v1."""

from __future__ import annotations

import numpy as np
import pytest

from emorl.envs.emo_dialogue import EmoDialogueEnv, task_reward
from emorl.envs.policies import ScriptedSupportAgent
from emorl.reward import VARIANTS, EmotionReward

F = np.array([0.0, 1.0, -0.5, -1.0])  # neutral happy sad angry
P_PREV = np.array([0.7, 0.1, 0.1, 0.1])
P_NOW = np.array([0.2, 0.1, 0.1, 0.6])
DP_EST = np.array([-0.1, 0.0, 0.05, 0.05])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("exempt", [False, True])
def test_each_variant_matches_its_formula(variant: str, exempt: bool) -> None:
    terms = EmotionReward(variant=variant)(
        P_NOW, P_PREV, r_est=-0.3, delta_p_est=DP_EST, exempt=exempt
    )
    level = F @ P_NOW
    expected = {
        "level": level,
        "level_exempt": (np.maximum(F, 0) @ P_NOW) if exempt else level,
        "delta": F @ (P_NOW - P_PREV),
        "eq2": F @ (P_NOW - P_PREV) + 0.3,
        "eq2_no_badnews": F @ (P_NOW - P_PREV) + 0.3,
        "eq1": F @ (P_NOW - P_PREV - DP_EST),
        "none": 0.0,
    }[variant]
    assert terms.reward == pytest.approx(expected)
    assert terms.level == pytest.approx(-0.55) and terms.delta == pytest.approx(-0.5)
    assert terms.eq1 == pytest.approx(-0.5 + 0.05 / 2 + 0.05) and terms.eq2 == pytest.approx(-0.2)
    assert terms.r_est == -0.3 and terms.exempt is exempt
    assert set(terms.as_dict()) == {
        "variant",
        "reward",
        "level",
        "level_exempt",
        "delta",
        "eq1",
        "eq2",
        "r_est",
        "exempt",
    }


def test_eq1_and_eq2_are_different_numbers_unless_r_est_is_f_of_delta_p_est() -> None:
    eq1 = EmotionReward(variant="eq1")(P_NOW, P_PREV, r_est=0.4, delta_p_est=DP_EST).reward
    eq2 = EmotionReward(variant="eq2")(P_NOW, P_PREV, r_est=0.4, delta_p_est=DP_EST).reward
    assert eq1 != pytest.approx(eq2)
    same = EmotionReward(variant="eq2")(P_NOW, P_PREV, r_est=float(F @ DP_EST)).reward
    assert same == pytest.approx(eq1)


def test_batch_is_the_single_call_row_by_row() -> None:
    rng = np.random.default_rng(0)
    p, prev = rng.dirichlet(np.ones(4), 6), rng.dirichlet(np.ones(4), 6)
    dp, r, ex = rng.normal(0, 0.1, (6, 4)), rng.normal(0, 0.2, 6), rng.random(6) < 0.5
    reward = EmotionReward(variant="level_exempt")
    batch = reward.batch(p, prev, r_est=r, delta_p_est=dp, exempt=ex)
    for i in range(6):
        one = reward(p[i], prev[i], r_est=r[i], delta_p_est=dp[i], exempt=bool(ex[i]))
        for key in ("reward", "level", "level_exempt", "delta", "eq1", "eq2"):
            assert batch[key][i] == pytest.approx(getattr(one, key))
    with pytest.raises(ValueError, match=r"previous must have shape \(6, 4\)"):
        reward.batch(p, prev[:5])
    with pytest.raises(ValueError, match="r_est holds NaN"):
        reward.batch(p, prev, r_est=np.full(6, np.nan))


def test_task_reward_by_outcome() -> None:
    kw = {"success_bonus": 2.0, "hangup_penalty": 3.0, "escalation_cost": 0.5}
    assert task_reward("success", **kw) == 2.0
    assert task_reward("hangup", **kw) == task_reward("closed_early", **kw) == -3.0
    assert task_reward("escalated", **kw) == -0.5
    assert task_reward(None, **kw) == 0.0


def _oracle(**kwargs) -> EmoDialogueEnv:
    return EmoDialogueEnv(recognizer="oracle", oracle_confusion=0.0, **kwargs)


def _play_refused_call(env: EmoDialogueEnv) -> list[dict]:
    """The scripted agent on the first seed whose request cannot be granted."""
    agent = ScriptedSupportAgent.for_env(env)
    for seed in range(50):
        obs, _ = env.reset(seed=seed)
        if not env.goal.grantable:
            break
    steps, done = [], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent(obs))
        steps.append({"reward": reward, **info})
        done = terminated or truncated
    return steps


def test_level_exempt_spares_only_the_reply_to_unavoidable_bad_news() -> None:
    steps = _play_refused_call(_oracle(reward="level_exempt", estimator=None))
    acts = [s["act"] for s in steps]
    bad = acts.index("deliver_bad_news")
    assert [s["reward_terms"]["exempt"] for s in steps] == [i == bad for i in range(len(acts))]
    news = steps[bad]["reward_terms"]
    assert news["reward"] == news["level_exempt"] == pytest.approx(max(news["level"], 0.0))
    for i, s in enumerate(steps):
        if i != bad:
            assert s["reward"] == pytest.approx(s["reward_terms"]["level"] + s["task_reward"])
    # bad news on a call that can be granted is not unavoidable: no exemption
    env = _oracle(reward="level_exempt", estimator=None)
    for seed in range(50):
        env.reset(seed=seed)
        if env.goal.grantable:
            break
    _, _, _, _, info = env.step(env.act_names.index("deliver_bad_news"))
    assert info["reward_terms"]["exempt"] is False


def test_escalation_cost_is_charged_when_the_agent_escalates() -> None:
    env = _oracle(reward="none", estimator=None, escalation_cost=2.5, success_bonus=1.0)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(env.act_names.index("escalate"))
    assert terminated and reward == -2.5 and info["task_reward"] == -2.5
    assert info["outcome"] == "escalated"
    steps = _play_refused_call(_oracle(reward="none", estimator=None, success_bonus=1.0))
    assert steps[-1]["success"] and steps[-1]["reward"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"escalation_cost": -1.0}, "escalation_cost must be at least 0"),
        ({"escalation_cost": float("inf")}, "escalation_cost must be a finite number"),
        ({"escalation_cost": True}, "escalation_cost must be a finite number"),
        ({"success_bonus": "10"}, "success_bonus must be a finite number"),
        ({"reward": "delta_est"}, "renamed 'eq2'"),
        ({"lingering": 0.99}, "lingering"),
    ],
)
def test_bad_reward_settings_are_refused_naming_the_field(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EmoDialogueEnv(recognizer="oracle", estimator=None, **kwargs)


def test_each_estimated_variant_gets_the_shipped_estimator_of_its_kind() -> None:
    for variant in ("eq1", "eq2", "eq2_no_badnews"):
        env = EmoDialogueEnv(recognizer="oracle", reward=variant)
        assert env.estimator is not None and env.estimator.kind == variant
        assert env.estimator.recognizer["name"] == "oracle"
    text = EmoDialogueEnv(reward="eq1")
    assert text.estimator is not None and text.estimator.recognizer["name"] == "text"
    assert EmoDialogueEnv(recognizer="oracle", reward="level").estimator is None


def test_an_estimator_of_another_kind_or_recognizer_is_refused() -> None:
    from emorl.reward.estimator import shipped_estimator_dir

    with pytest.raises(ValueError, match="is a 'eq2' estimator; reward variant 'eq1' needs"):
        EmoDialogueEnv(
            recognizer="oracle", reward="eq1", estimator=shipped_estimator_dir("oracle", "eq2")
        )
    with pytest.raises(
        ValueError, match="fitted on rollouts of the 'text' recognizer, not 'oracle'"
    ):
        EmoDialogueEnv(
            recognizer="oracle", reward="eq2", estimator=shipped_estimator_dir("text", "eq2")
        )
    with pytest.raises(FileNotFoundError, match="no shipped eq2 reward estimator for the 'custom'"):
        EmoDialogueEnv(recognizer=_Uniform(), reward="eq2")
    other_f = {"neutral": 0, "happy": 0.5, "sad": -0.5, "angry": -1}
    with pytest.raises(ValueError, match="emotion values"):
        EmoDialogueEnv(recognizer="oracle", reward="eq2", emotion_values=other_f)


class _Uniform:
    labels = ("neutral", "happy", "sad", "angry")

    def posteriors(self, replies):
        return np.full((len(replies), 4), 0.25)


@pytest.mark.parametrize("variant", ["eq1", "eq2", "eq2_no_badnews"])
def test_the_env_reward_is_the_estimators_on_the_logged_transition(variant: str) -> None:
    env = EmoDialogueEnv(recognizer="oracle", reward=variant, success_bonus=3.0)
    steps = _play_refused_call(env)
    assert any(s["reward_terms"]["r_est"] != 0 for s in steps)
    t = env.last_transition
    assert t is not None and t.outcome == "success"
    r_est, dp = env.estimator.estimate(t.obs, t.act, t.past_p, t.past_a)
    terms = EmotionReward(variant=variant)(t.posteriors, t.previous, r_est=r_est, delta_p_est=dp)
    assert steps[-1]["reward"] == pytest.approx(terms.reward + 3.0)


def test_train_agent_takes_an_estimator_and_env_kwargs(monkeypatch, tmp_path) -> None:
    import argparse

    from emorl.agents import train as train_module
    from emorl.agents.train import add_train_arguments, train_from_args

    seen: dict = {}
    monkeypatch.setattr(train_module, "train", lambda algo, env, **kw: seen.update(kw) or 7)
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    argv = ["--recognizer", "bimodal", "--reward", "eq1", "--estimator", str(tmp_path),
            "--env-kwarg", "escalation_cost=1.5", "--env-kwarg", "lingering=0.5"]  # fmt: skip
    assert train_from_args(parser.parse_args(argv)) == 7
    assert seen["reward"] == "eq1"
    assert seen["env_kwargs"] == {
        "recognizer": "bimodal", "estimator": str(tmp_path), "escalation_cost": 1.5,
        "lingering": 0.5,
    }  # fmt: skip
    with pytest.raises(SystemExit):
        parser.parse_args(["--reward", "delta_est"])


@pytest.mark.integration
def test_bimodal_environments_share_one_recognizer_and_need_their_own_estimator() -> None:
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    first = EmoDialogueEnv(recognizer="bimodal", reward="level")
    second = EmoDialogueEnv(recognizer="bimodal", reward="none")
    assert first.recognizer is second.recognizer  # one IEmoNet per process
    with pytest.raises(
        FileNotFoundError, match="no shipped eq2 reward estimator for the 'bimodal'"
    ):
        EmoDialogueEnv(recognizer="bimodal")
