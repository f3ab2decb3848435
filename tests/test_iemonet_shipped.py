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


WHISPER_IEMONET = DEFAULT_IEMONET_DIR.parent / "iemonet-whisper-tiny-4class"


@pytest.mark.skipif(not (WHISPER_IEMONET / "config.json").is_file(), reason="not built")
def test_the_whisper_iemonet_reads_the_asr_pass_and_hears_the_voice(shared_data) -> None:
    config = json.loads((WHISPER_IEMONET / "config.json").read_text())
    assert config["parts"]["ser"]["name"] == "ser-whisper-tiny-4class"
    assert config["model"]["reliability"] and config["calibration"]["source"].startswith("given")
    net = IEmoNet.from_pretrained(ser="ser-whisper-tiny-4class")
    assert net.ser.adapt_prior == 1.0  # one clip of a new caller still carries its emotion
    actor = shared_data / "ravdess" / "Actor_01"
    angry, calm = actor / "03-01-05-02-01-01-01.flac", actor / "03-01-01-01-01-01-01.flac"
    # each clip as a first turn: the caller heard once, as in emorl demo
    results = [net.predict(p, speaker="actor1", speaker_history=[]) for p in (angry, calm)]
    for result in results:
        assert result.branches == ("ter", "ser") and "kids" in result.transcript.lower()
        assert abs(sum(result.fused.values()) - 1) < 1e-5
    # the same sentence in two voices: the SER hears the difference
    assert results[0].ser["angry"] > results[1].ser["angry"] + 0.2
