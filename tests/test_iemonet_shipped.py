"""The shipped IEmoNet: loads offline from the shipped TER/SER by reference, predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emorl.recognizers.iemonet import DEFAULT_IEMONET_DIR, IEmoNet

pytestmark = pytest.mark.skipif(
    not (DEFAULT_IEMONET_DIR / "config.json").is_file(), reason="shipped IEmoNet not built"
)


@pytest.fixture(scope="module")
def model() -> IEmoNet:
    return IEmoNet.from_pretrained(asr=None)


def test_folder_references_shipped_parts() -> None:
    config = json.loads((DEFAULT_IEMONET_DIR / "config.json").read_text())
    assert config["type"] == "iemonet"
    assert config["parts"]["ter"]["name"] == "ter-dialogue-4class"
    assert config["parts"]["ser"]["name"] == "ser-ravdess-4class"
    assert config["model"]["labels"] == ["neutral", "happy", "sad", "angry"]
    assert config["temperature"] > 0 and "metrics" in config
    assert (DEFAULT_IEMONET_DIR / "model.safetensors").stat().st_size < 2_000_000
    assert (DEFAULT_IEMONET_DIR / "README.md").is_file()


def test_shipped_model_predicts_both_branches(model: IEmoNet) -> None:
    t = np.arange(48000) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 180 * t) * np.minimum(1, t * 10)).astype(np.float32)
    result = model.predict(  # a tone is no speech: the voice-activity check is off here
        audio,
        "I am so angry with you, this is ridiculous!",
        sampling_rate=16000,
        check_speech=False,
    )
    assert result.branches == ("ter", "ser")
    assert list(result.fused) == ["neutral", "happy", "sad", "angry"]
    assert abs(sum(result.fused.values()) - 1) < 1e-5
    assert result.ter["angry"] > 0.5
