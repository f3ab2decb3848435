"""EmotionReward: the emotion map f, validation, renamed variants."""

from __future__ import annotations

import pytest

from emorl.reward import DEFAULT_EMOTION_VALUES, VARIANTS, EmotionReward
from emorl.reward.emotion_reward import check_variant


def test_default_values_are_the_documented_map() -> None:
    assert DEFAULT_EMOTION_VALUES == {"neutral": 0.0, "happy": 1.0, "sad": -0.5, "angry": -1.0}
    assert EmotionReward().variant == "eq2"
    assert set(VARIANTS) == {
        "eq2",
        "eq1",
        "eq2_no_badnews",
        "delta",
        "level",
        "level_exempt",
        "none",
    }


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
    with pytest.raises(ValueError, match="unknown reward variant 'sum'"):
        EmotionReward(variant="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        EmotionReward()([1 / 3] * 3, [0.25] * 4)


@pytest.mark.parametrize(("old", "new"), [("delta_est", "eq2"), ("delta_pest", "eq1")])
def test_the_old_variant_names_are_refused_with_the_new_name(old: str, new: str) -> None:
    with pytest.raises(ValueError, match=f"renamed '{new}'"):
        EmotionReward(variant=old)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"--reward: reward variant '{old}' was renamed"):
        check_variant(old, "--reward")
