"""Integration: the shipped four-class speech model, loaded and run offline."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from emorl.recognizers.speech.model import DEFAULT_SER_DIR, SpeechEmotionRecognizer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DEFAULT_SER_DIR.is_dir(), reason="no shipped SER model"),
]
SR = 16000


def voice(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A voiced, vowel-like signal with pitch movement and syllable-rate loudness."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.1 * x * envelope + 0.002 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def shipped() -> SpeechEmotionRecognizer:
    return SpeechEmotionRecognizer.from_pretrained()


def test_shipped_model_predicts_labelled_posteriors(shipped: SpeechEmotionRecognizer) -> None:
    assert shipped.labels == ("neutral", "happy", "sad", "angry")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown speaker falls back to global statistics
        probs = shipped.predict_proba(voice(2.5, 140.0, 0), sampling_rate=SR)
    assert list(probs) == list(shipped.labels)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_a_new_speaker_is_adapted_from_their_clips(
    shipped: SpeechEmotionRecognizer,
) -> None:
    clips = [voice(2.0, f0, seed) for seed, f0 in enumerate((120.0, 150.0, 180.0))]
    frames = [shipped.frames(c, SR) for c in clips]
    shipped.adapt_speaker("caller", frames, frames=True)
    adapted = shipped.probabilities_from_frames(frames, ["caller"] * 3)
    assert adapted.shape == (3, 4)
    assert "caller" in shipped.normalizer.speaker_stats


def test_shipped_model_carries_its_provenance() -> None:
    config = json.loads((DEFAULT_SER_DIR / "config.json").read_text())
    assert config["type"] == "ser"
    assert config["model"]["normalization"] == "speaker"
    assert config["data"]["train"][0]["corpus"] == "ravdess"
    assert len(config["data"]["train_speakers"]) == 20
    assert (DEFAULT_SER_DIR / "README.md").is_file()
    assert (DEFAULT_SER_DIR / "model.safetensors").stat().st_size < 3 * 1024 * 1024
