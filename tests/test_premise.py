"""The fixed policies and the premise check (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.envs.emo_dialogue import EmoDialogueEnv
from emorl.envs.policies import AVOIDING_THE_NEWS, FIXED_POLICIES, fixed_policy

ORACLE = {"recognizer": "oracle"}


def _play(name: str, seed: int) -> tuple[list[str], dict, bool]:
    env = EmoDialogueEnv(recognizer="oracle", estimator=None, reward="none")
    agent = fixed_policy(name, env)
    obs, _ = env.reset(seed=seed)
    acts, done, info = [], False, {}
    while not done:
        act = agent(obs)
        acts.append(env.act_names[act])
        obs, _, terminated, truncated, info = env.step(act)
        done = terminated or truncated
    return acts, info, env.goal.grantable


def _seeds() -> tuple[int, int]:
    """A seed whose request can be granted and one whose request cannot."""
    env = EmoDialogueEnv(recognizer="oracle", estimator=None)
    found: dict[bool, int] = {}
    for seed in range(100):
        env.reset(seed=seed)
        found.setdefault(env.goal.grantable, seed)
        if len(found) == 2:
            return found[True], found[False]
    raise AssertionError("no seed of each kind")


def test_each_fixed_policy_does_what_its_name_says() -> None:
    granted, refused = _seeds()
    script, info, _ = _play("scripted", refused)
    assert info["success"] and "deliver_bad_news" in script and script[-1] == "close"
    acts, info, _ = _play("escalate-instead", refused)
    assert acts == script[: script.index("show_empathy")] + ["escalate"]
    assert info["outcome"] == "escalated" and not info["success"]
    acts, info, _ = _play("soothe-then-escalate", refused)
    assert acts[-3:] == ["show_empathy", "apologise", "escalate"]
    acts, info, _ = _play("skip-the-news", refused)
    assert "deliver_bad_news" not in acts and acts[-3:] == ["show_empathy", "offer_alternative",
                                                            "close"]  # fmt: skip
    assert info["outcome"] == "closed_early"
    acts, info, _ = _play("pad-with-courtesy", granted)
    assert info["success"] and acts.count("apologise") == 2 and "show_empathy" in acts
    assert acts[1] == "apologise" and acts[-2:] == ["apologise", "close"]
    # on a call that can be granted every policy but padding is the scripted agent
    script, _, _ = _play("scripted", granted)
    for name in AVOIDING_THE_NEWS:
        assert _play(name, granted)[0] == script
    with pytest.raises(ValueError, match="unknown fixed policy 'rude'"):
        fixed_policy("rude", EmoDialogueEnv(recognizer="oracle", estimator=None))
    assert list(FIXED_POLICIES)[0] == "scripted"


@pytest.fixture(scope="module")
def premise(tmp_path_factory):
    from emorl.reward.premise import premise_check

    out = tmp_path_factory.mktemp("premise")
    premise_check(
        out,
        episodes=12,
        factors={"success_bonus": [0, 5], "escalation_cost": [0, 1.5]},
        recognizer="oracle",
        estimator_episodes=40,
        progress=False,
    )
    return out, json.loads((out / "premise.json").read_text())


def test_premise_check_writes_every_cell_variant_and_call_type(premise) -> None:
    out, data = premise
    assert (out / "premise.png").stat().st_size > 5000
    text = (out / "premise.md").read_text()
    assert "Avoidance gap" in text and "The dilemma exists in" in text
    cells = data["cells"]
    assert [c["factors"] for c in cells] == [
        {"success_bonus": b, "escalation_cost": e} for b in (0, 5) for e in (0, 1.5)
    ]
    for c in cells:
        assert set(c["variants"]) == {
            "eq2", "eq1", "eq2_no_badnews", "delta", "level", "level_exempt", "none"
        }  # fmt: skip
        assert c["verdict"] in (
            "dilemma (clear)", "dilemma", "level does not avoid the news", "eq1/eq2 avoid it too"
        )  # fmt: skip
        none = c["variants"]["none"]
        grant = none["returns"]["grantable"]
        # on calls that can be granted the avoiding policies are the scripted agent
        for p in AVOIDING_THE_NEWS:
            assert grant[p]["value"] == grant["scripted"]["value"]
    assert data["summary"]["cells"] == 4
    terms = data["terms"][0]
    assert terms["bad_news_transitions"] > 0 and set(terms["variants"]) == {
        "eq2", "eq1", "eq2_no_badnews", "delta", "level", "level_exempt"
    }  # fmt: skip
    assert terms["variants"]["level"]["corr_level"] == pytest.approx(1.0)
    assert len(data["settings"]["estimators"]["fitted"]) == 1  # task factors need no refit


def test_task_factors_shift_the_returns_exactly(premise) -> None:
    _, data = premise
    by = {
        (c["factors"]["success_bonus"], c["factors"]["escalation_cost"]): c for c in data["cells"]
    }
    base = by[(0, 0)]["variants"]["none"]["returns"]["refused"]
    assert base["scripted"]["value"] == 0.0 == base["escalate-instead"]["value"]
    bonus = by[(5, 0)]["variants"]["none"]["returns"]["refused"]
    assert 4.5 < bonus["scripted"]["value"] < 5.0  # 5 discounted over the call's turns
    assert bonus["escalate-instead"]["value"] == 0.0  # an escalation is no success
    cost = by[(0, 1.5)]["variants"]["none"]["returns"]["refused"]
    assert -1.5 < cost["escalate-instead"]["value"] < -1.3 and cost["scripted"]["value"] == 0.0


def test_premise_returns_are_the_environment_returns(premise) -> None:
    from emorl.reward import RewardEstimator

    out, data = premise
    folder = data["settings"]["estimators"]["fitted"][0]["eq2"]["folder"]
    env = EmoDialogueEnv(recognizer="oracle", reward="eq2", estimator=folder, success_bonus=5.0)
    assert isinstance(env.estimator, RewardEstimator)
    agent = fixed_policy("scripted", env)
    returns = []
    for i in range(12):
        obs, _ = env.reset(seed=10_000 + i)
        g, t, done = 0.0, 0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(agent(obs))
            g += 0.99**t * r
            t += 1
            done = terminated or truncated
        returns.append(g)
    cell = next(
        c for c in data["cells"] if c["factors"] == {"success_bonus": 5, "escalation_cost": 0}
    )
    assert cell["variants"]["eq2"]["returns"]["all"]["scripted"]["value"] == pytest.approx(
        float(np.mean(returns)), abs=1e-9
    )


def test_bad_factors_are_refused(tmp_path) -> None:
    from emorl.reward.premise import premise_check

    with pytest.raises(ValueError, match="factor 'escalation_cost': level -1 is below 0"):
        premise_check(tmp_path, factors={"escalation_cost": [-1]}, recognizer="oracle")
    with pytest.raises(ValueError, match="factor 'success_bonus': level 'x' is not a finite"):
        premise_check(tmp_path, factors={"success_bonus": ["x"]}, recognizer="oracle")
    with pytest.raises(ValueError, match="policies must include 'scripted'"):
        premise_check(tmp_path, policies=["skip-the-news"], recognizer="oracle")
    assert not list(tmp_path.iterdir())


def test_premise_command(tmp_path) -> None:
    from emorl.cli import main

    code = main(
        ["study", "premise", "--out", str(tmp_path), "--episodes", "4", "--recognizer",
         "oracle", "--factor", "lingering=0.3", "--estimator-episodes", "20",
         "--policies", "scripted", "skip-the-news", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "premise.json").read_text())
    assert data["cells"][0]["factors"] == {"lingering": 0.3}
    assert set(data["cells"][0]["variants"]["level"]["avoid_gap"]) == {"skip-the-news"}
