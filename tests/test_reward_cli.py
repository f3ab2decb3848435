"""``emorl train reward-estimator`` and the lingering-mood demonstration, end to end."""

from __future__ import annotations

import json

from emorl.cli import main
from emorl.envs.demo import lingering_mood_demo
from emorl.envs.emo_dialogue import EmoDialogueEnv
from emorl.reward import RewardEstimator


def test_train_reward_estimator_command(tmp_path, capsys) -> None:
    out = tmp_path / "est"
    code = main(
        ["train", "reward-estimator", "--episodes", "40", "--out", str(out),
         "--recognizer", "oracle", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["ridge"]["mse_delta_p"] < metrics["baseline_zero"]["mse_delta_p"]
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["episodes"] == 40 and config["reaction_acts"] == ["deliver_bad_news"]
    model = RewardEstimator.from_pretrained(out)
    env = EmoDialogueEnv(recognizer="oracle", estimator=out)
    assert env.estimator is not None and env.estimator.obs_dim == model.obs_dim


def test_level_is_fooled_by_lingering_mood_and_delta_est_is_not() -> None:
    # the shipped estimator was fitted in text mode: score in text mode (shipped posteriors)
    result = lingering_mood_demo(seeds=100, recognizer="text")
    v = result["variants"]
    caller = result["caller"]
    assert caller["valence_after_bad"]["mean"] < caller["valence_clean"]["mean"]
    assert caller["happy_after_bad"]["mean"] < caller["happy_clean"]["mean"]
    # level blames the good act for the mood it inherited; delta over-credits the rebound
    assert v["level"]["shift"]["mean"] < -0.1
    assert v["delta"]["shift"]["mean"] > 0.4
    assert abs(v["delta_est"]["shift"]["mean"]) < abs(v["level"]["shift"]["mean"])
    assert v["delta_est"]["good_act_after_bad_turn"]["mean"] > 0 > v["delta_est"]["bad_act"]["mean"]
