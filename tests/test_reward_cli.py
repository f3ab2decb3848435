"""The lingering-mood demonstration (``emorl env demo``), end to end on the shipped estimators."""

from __future__ import annotations

from emorl.envs.demo import lingering_mood_demo


def test_level_is_fooled_by_lingering_mood_and_the_estimates_less_so() -> None:
    # the shipped estimators were fitted in text mode: score in text mode (shipped posteriors)
    result = lingering_mood_demo(seeds=100, recognizer="text")
    v = result["variants"]
    caller = result["caller"]
    assert caller["valence_after_bad"]["mean"] < caller["valence_clean"]["mean"]
    assert caller["happy_after_bad"]["mean"] < caller["happy_clean"]["mean"]
    # level blames the good act for the mood it inherited; delta over-credits the rebound
    assert v["level"]["shift"]["mean"] < -0.1
    assert v["delta"]["shift"]["mean"] > 0.4
    for variant in ("eq1", "eq2"):
        assert abs(v[variant]["shift"]["mean"]) < v["delta"]["shift"]["mean"]
        assert v[variant]["good_act_after_bad_turn"]["mean"] > 0 > v[variant]["bad_act"]["mean"]
