"""EmotionReward (eq. 1 and 2 and the other variants) and the reward estimator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.reward import DEFAULT_EMOTION_VALUES, VARIANTS, EmotionReward, RewardEstimator
from emorl.reward.training import Rollouts, fit_estimator

F = np.array([0.0, 1.0, -0.5, -1.0])  # neutral happy sad angry
P_PREV = np.array([0.7, 0.1, 0.1, 0.1])
P_NOW = np.array([0.2, 0.1, 0.1, 0.6])


def test_default_values_are_the_documented_map() -> None:
    assert DEFAULT_EMOTION_VALUES == {"neutral": 0.0, "happy": 1.0, "sad": -0.5, "angry": -1.0}
    assert EmotionReward().variant == "delta_est"


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_matches_its_formula(variant: str) -> None:
    dp_est = np.array([-0.1, 0.0, 0.05, 0.05])
    terms = EmotionReward(variant=variant)(P_NOW, P_PREV, r_est=-0.3, delta_p_est=dp_est)
    expected = {
        "level": F @ P_NOW,
        "delta": F @ (P_NOW - P_PREV),
        "delta_est": F @ (P_NOW - P_PREV) + 0.3,
        "delta_pest": F @ (P_NOW - P_PREV - dp_est),
        "none": 0.0,
    }[variant]
    assert terms.reward == pytest.approx(expected)
    assert terms.level == pytest.approx(F @ P_NOW)
    assert terms.delta == pytest.approx(-0.5)
    assert terms.r_est == -0.3
    assert set(terms.as_dict()) == {"variant", "reward", "level", "delta", "r_est", "delta_pest"}


def test_eq1_and_eq2_agree_when_r_est_is_f_of_delta_p_est() -> None:
    dp_est = np.array([-0.2, 0.1, 0.0, 0.1])
    eq1 = EmotionReward(variant="delta_pest")(P_NOW, P_PREV, delta_p_est=dp_est).reward
    eq2 = EmotionReward(variant="delta_est")(P_NOW, P_PREV, r_est=float(F @ dp_est)).reward
    assert eq1 == pytest.approx(eq2)


def test_custom_values_and_bounds_are_validated() -> None:
    custom = EmotionReward(
        {"neutral": 0.1, "happy": 2.0, "sad": -1.0, "angry": -2.0}, bounds=(-2, 2)
    )
    assert custom.f["happy"] == 2.0
    with pytest.raises(ValueError, match="outside"):
        EmotionReward({"neutral": 0, "happy": 1.5, "sad": 0, "angry": -1})
    with pytest.raises(ValueError, match="missing"):
        EmotionReward({"neutral": 0, "happy": 1})
    with pytest.raises(ValueError, match="unknown"):
        EmotionReward({**DEFAULT_EMOTION_VALUES, "fear": -1})
    with pytest.raises(ValueError, match="finite"):
        EmotionReward({**DEFAULT_EMOTION_VALUES, "happy": float("nan")})
    with pytest.raises(ValueError, match="variant"):
        EmotionReward(variant="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        EmotionReward()(np.ones(3) / 3, P_PREV)


def _synthetic(n: int = 600, seed: int = 0) -> Rollouts:
    rng = np.random.default_rng(seed)
    obs = rng.random((n, 5))
    acts = rng.integers(3, size=n)
    true = np.array([[0.2, -0.1, 0.0, -0.1], [-0.3, 0.4, 0.0, -0.1], [0.0, -0.2, 0.1, 0.1]])
    dp = true[acts] + 0.3 * obs[:, :1] * (acts[:, None] == 1) + 0.01 * rng.normal(size=(n, 4))
    return Rollouts(obs, acts, dp, np.arange(n) // 6)


def test_estimator_learns_act_specific_reactions_and_round_trips(tmp_path) -> None:
    data = _synthetic()
    labels = ("neutral", "happy", "sad", "angry")
    model = fit_estimator(data, act_names=("a", "b", "c"), labels=labels, reaction_acts=("b",))
    metrics = model.metadata["metrics"]
    assert metrics["ridge_per_act"]["r2_reward"] > 0.9
    assert metrics["ridge"]["mse_delta_p"] < metrics["ridge_state_only"]["mse_delta_p"]
    # acts without their own model get the state model's estimate: their effect stays
    assert np.allclose(model.predict_delta(data.obs[0], 0), model.predict_delta(data.obs[0], 2))
    assert not np.allclose(model.predict_delta(data.obs[0], 0), model.predict_delta(data.obs[0], 1))
    pred = model.predict_delta(data.obs[:4], data.acts[:4])
    assert pred.shape == (4, 4)
    assert model.predict_delta(data.obs[0], int(data.acts[0])).shape == (4,)
    model.save_pretrained(tmp_path / "est")
    config = json.loads((tmp_path / "est" / "config.json").read_text())
    assert config["type"] == "reward-estimator" and "metrics" in config
    loaded = RewardEstimator.from_pretrained(tmp_path / "est")
    assert np.allclose(loaded.predict_delta(data.obs[:4], data.acts[:4]), pred, atol=1e-4)
    assert loaded.reaction_acts == ("b",)
    assert loaded.predict_reward(data.obs[0], 1, F) == pytest.approx(
        float(loaded.predict_delta(data.obs[0], 1) @ F)
    )
    with pytest.raises(ValueError, match="expected-reaction acts"):
        fit_estimator(data, act_names=("a", "b", "c"), labels=labels)
    with pytest.raises(ValueError, match="observations of size"):
        loaded.predict_delta(np.zeros(7), 0)
    with pytest.raises(ValueError, match="out of range"):
        loaded.predict_delta(np.zeros(5), 3)


def test_loading_a_folder_of_another_kind_fails(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"type": "ter"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="expected 'reward-estimator'"):
        RewardEstimator.from_pretrained(tmp_path)
