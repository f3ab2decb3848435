"""Speech emotion recognition: network, recognizer, trainer, baseline, workflows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emorl.artifacts import ModelFolderError
from emorl.recognizers.speech.baseline import FunctionalsBaseline
from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
from emorl.recognizers.speech.network import PRESETS, SERNet, SERNetConfig
from emorl.recognizers.speech.training import SERTrainingConfig, augment, evaluate_ser, train_ser
from emorl.recognizers.speech.workflow import (
    SERCrossValJob,
    SERTrainJob,
    run_crossval_ser,
    run_evaluate_ser,
    run_train_ser,
)
from emorl.recognizers.text.workflow import CorpusSource

SR = 16000
# RAVDESS emotion codes of the four classes and a pitch that separates them
EMOTIONS = {"01": 120.0, "03": 260.0, "04": 90.0, "05": 200.0}


def synthetic_sequences(n_per_class: int, speakers: int, seed: int = 0):
    """Frame sequences whose class shows in feature 0's level, shifted per speaker."""
    rng = np.random.default_rng(seed)
    sequences, labels, who = [], [], []
    for speaker in range(speakers):
        offset = rng.normal(0, 3)
        for label in range(4):
            for _ in range(n_per_class):
                length = int(rng.integers(20, 60))
                x = rng.normal(0, 1, size=(length, 32)).astype(np.float32)
                x[:, 0] += 2.0 * label + offset
                sequences.append(x)
                labels.append(label)
                who.append(f"s{speaker}")
    return sequences, labels, who


def tone(freq: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    vibrato = 1 + 0.03 * np.sin(2 * np.pi * 5 * t)
    x = sum(np.sin(2 * np.pi * freq * k * vibrato * t) / k for k in (1, 2, 3))
    envelope = np.minimum(1, np.minimum(t, t[::-1]) * 10)
    return (0.2 * x * envelope + 0.003 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def ravdess_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 actors x 4 emotions x 2 clips named like RAVDESS, pitch set by emotion."""
    root = tmp_path_factory.mktemp("ravdess")
    for actor in range(1, 5):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for code, freq in EMOTIONS.items():
            for rep in (1, 2):
                name = f"03-01-{code}-01-01-{rep:02d}-{actor:02d}.wav"
                x = tone(freq * (1 + 0.05 * actor), 1.0 + 0.1 * rep, seed=actor * 10 + rep)
                sf.write(folder / name, x, SR)
    return root


def test_presets_set_the_attention_dimension() -> None:
    for name, change in PRESETS.items():
        net = SERNet(SERNetConfig(**change))
        assert net.attention.project.out_features == change["attention_dim"], name
    assert set(PRESETS) == {"64attDim", "128attDim"}


def test_padding_does_not_change_the_output() -> None:
    net = SERNet(SERNetConfig()).eval()
    x = torch.randn(2, 100, 32)
    lengths = torch.tensor([100, 40])
    changed = x.clone()
    changed[1, 40:] = 50.0
    torch.testing.assert_close(net.features(x, lengths), net.features(changed, lengths))
    assert net.features(x, lengths).shape == (2, 256)


def test_training_learns_and_speaker_normalisation_helps_unseen_speakers() -> None:
    torch.manual_seed(0)
    sequences, labels, speakers = synthetic_sequences(4, speakers=4)
    test = synthetic_sequences(3, speakers=2, seed=9)
    model = SpeechEmotionRecognizer.create(SERConfig(max_frames=48))
    # no augmentation: these sequences are 20-60 frames, shorter than the default masks
    training = SERTrainingConfig(
        epochs=10, batch_size=16, learning_rate=3e-3, time_masks=0, feature_noise=0.0
    )
    result = train_ser(model, sequences, labels, training, speakers=speakers, progress=False)
    assert result.history["train_loss"][-1] < 0.5 * result.history["train_loss"][0]
    test_speakers = [f"new{s}" for s in test[2]]
    report = evaluate_ser(model, test[0], test[1], test_speakers)
    assert report.ua >= 0.9
    # the unseen speakers were adapted for evaluation only: the model is unchanged
    assert not any(s.startswith("new") for s in model.normalizer.speaker_stats)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    sequences, labels, speakers = synthetic_sequences(2, speakers=2)
    model = SpeechEmotionRecognizer.create(SERConfig(preset="64attDim", max_frames=64))
    train_ser(
        model, sequences, labels, SERTrainingConfig(epochs=1), speakers=speakers, progress=False
    )
    model.save_pretrained(tmp_path / "m", metrics={"validation": {"ua": 0.3}})
    loaded = SpeechEmotionRecognizer.from_pretrained(tmp_path / "m")
    probe = sequences[:3]
    np.testing.assert_array_equal(
        loaded.probabilities_from_frames(probe, speakers[:3]),
        model.probabilities_from_frames(probe, speakers[:3]),
    )
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["preset"] == "64attDim"
    assert config["label2id"] == {"neutral": 0, "happy": 1, "sad": 2, "angry": 3}
    assert config["feature_key"].startswith("IS09")
    assert set(loaded.normalizer.speaker_stats) == {"s0", "s1"}


def test_missing_model_folder_and_untrained_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not found"):
        SpeechEmotionRecognizer.from_pretrained(tmp_path / "none")
    model = SpeechEmotionRecognizer.create()
    with pytest.raises(ValueError, match="train it first"):
        model.probabilities_from_frames([np.zeros((10, 32), np.float32)])


def test_predict_proba_on_audio_arrays_and_files(tmp_path: Path) -> None:
    sequences, labels, speakers = synthetic_sequences(2, speakers=2)
    model = SpeechEmotionRecognizer.create(SERConfig(normalization="utterance"))
    train_ser(model, sequences, labels, SERTrainingConfig(epochs=1), progress=False)
    clip = tone(200.0, 1.2, seed=1)
    one = model.predict_proba(clip, sampling_rate=SR)
    assert list(one) == ["neutral", "happy", "sad", "angry"]
    assert sum(one.values()) == pytest.approx(1.0, abs=1e-5)
    stereo_44k = np.stack([tone(200.0, 1.2, 2)] * 2, axis=1)
    from scipy.signal import resample_poly

    stereo_44k = resample_poly(stereo_44k, 441, 160, axis=0).astype(np.float32)
    sf.write(tmp_path / "clip.flac", stereo_44k, 44100)
    # sampling_rate describes the arrays; files carry their own rate
    batch = model.predict_proba([tmp_path / "clip.flac", clip], sampling_rate=SR)
    assert isinstance(batch, list) and len(batch) == 2
    assert model.features(clip, sampling_rate=SR).shape == (1, 256)


def test_baseline_learns_separable_functionals() -> None:
    rng = np.random.default_rng(0)
    vectors = [rng.normal(size=20) + np.eye(20)[label] * 4 for label in range(4) for _ in range(8)]
    labels = [label for label in range(4) for _ in range(8)]
    speakers = [f"s{i % 4}" for i in range(32)]
    baseline = FunctionalsBaseline().fit(vectors, labels, speakers)
    predicted = baseline.predict(vectors[:8] + vectors[-8:], ["new"] * 16)
    assert (predicted[:8] == 0).mean() >= 0.75 and (predicted[8:] == 3).mean() >= 0.75


def test_workflows_on_a_ravdess_like_corpus(ravdess_like: Path, tmp_path: Path) -> None:
    source = CorpusSource("ravdess", ravdess_like)
    cache = tmp_path / "cache"
    job = SERTrainJob(
        train=[source],
        out=tmp_path / "model",
        val_speakers=["ravdess_04"],
        cache_dir=cache,
        training=SERTrainingConfig(epochs=3, batch_size=8, learning_rate=3e-3),
        model=SERConfig(max_frames=128),
        progress=False,
    )
    meta = run_train_ser(job)
    assert meta["data"]["val_speakers"] == ["ravdess_04"]
    assert sum(meta["data"]["train_counts"].values()) == 24
    assert {"accuracy", "ua", "macro_f1", "n"} <= set(meta["metrics"]["validation"])
    for name in (
        "config.json",
        "model.safetensors",
        "confusion_validation.png",
        "learning_curve.png",
    ):
        assert (tmp_path / "model" / name).is_file(), name
    assert not (tmp_path / "model" / "checkpoint.pt").exists()
    assert any(cache.rglob("*.npy"))

    model = SpeechEmotionRecognizer.from_pretrained(tmp_path / "model")
    result = run_evaluate_ser(
        model, source, cache_dir=cache, progress=False, confusion_png=tmp_path / "cm.png"
    )
    assert result["n"] == 32 and result["speakers"] == 4
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"

    for backend in ("network", "functionals"):
        summary = run_crossval_ser(
            SERCrossValJob(
                sources=[source],
                backend=backend,
                folds=2,
                seeds=(0, 1),
                cache_dir=cache,
                training=SERTrainingConfig(epochs=2, batch_size=8),
                model=SERConfig(max_frames=128),
                out=tmp_path / f"cv-{backend}",
                progress=False,
            )
        )
        assert summary["folds"] == 2 and summary["seeds"] == 2 and summary["n"] == 32
        assert summary["protocol"]["group"] == "speaker"
        assert (tmp_path / f"cv-{backend}" / "crossval.json").is_file()
    assert summary["ua"]["mean"] >= 0.75  # the baseline separates pitch-coded emotions


def test_unusable_clips_are_counted_not_dropped_silently(
    ravdess_like: Path, tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(ravdess_like, root)
    (root / "Actor_01" / "03-01-01-01-01-01-01.wav").write_bytes(b"not audio at all")
    sf.write(root / "Actor_02" / "03-01-03-01-01-01-02.wav", np.zeros(SR, np.float32), SR)
    model_dir = tmp_path / "m"
    sequences, labels, speakers = synthetic_sequences(2, speakers=2)
    model = SpeechEmotionRecognizer.create(SERConfig(normalization="global"))
    train_ser(
        model, sequences, labels, SERTrainingConfig(epochs=1), speakers=speakers, progress=False
    )
    model.save_pretrained(model_dir)
    with pytest.warns(UserWarning, match="2 clip"):
        result = run_evaluate_ser(
            SpeechEmotionRecognizer.from_pretrained(model_dir),
            CorpusSource("ravdess", root),
            cache_dir=tmp_path / "c",
            progress=False,
        )
    assert result["n"] == 30
    assert sum(result["skipped"].values()) == 2
    assert any("silent" in reason for reason in result["skipped"])


def test_cli_train_evaluate_and_cv(ravdess_like: Path, tmp_path: Path, capsys) -> None:
    from emorl.cli import main

    common = [
        "--corpus",
        "ravdess",
        "--data",
        str(ravdess_like),
        "--cache",
        str(tmp_path / "c"),
        "--max-frames",
        "128",
        "--no-progress",
    ]
    rc = main(
        [
            "train",
            "ser",
            *common,
            "--out",
            str(tmp_path / "m"),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--val-speakers",
            "ravdess_01",
            "--select",
            "val_ua",
        ]
    )
    assert rc == 0
    validation = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["validation"]
    assert validation["n"] == 8
    rc = main(["evaluate", "ser", *common, "--model", str(tmp_path / "m"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 0 and result["n"] == 32 and {"accuracy", "ua", "macro_f1"} <= set(result)
    rc = main(
        [
            "evaluate",
            "ser",
            *common,
            "--cv",
            "speakers",
            "--folds",
            "2",
            "--seeds",
            "1",
            "--backend",
            "functionals",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["folds"] == 2 and summary["n"] == 32
    assert 0.0 <= summary["ua_std"] <= summary["ua"] <= 1.0
    rc = main(["evaluate", "ser", *common, "--model", str(tmp_path / "missing")])
    assert rc == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "SER model" in err and "not found" in err and "missing" in err


def test_augment_masks_and_noises_only_real_frames() -> None:
    x = torch.ones(6, 50, 4)
    lengths = torch.tensor([50, 40, 30, 20, 10, 5])
    off = SERTrainingConfig(time_masks=0, feature_noise=0.0)
    assert augment(x, lengths, off) is x
    torch.manual_seed(3)
    masked = augment(
        x, lengths, SERTrainingConfig(time_masks=2, time_mask_frames=8, feature_noise=0.0)
    )
    assert torch.equal(x, torch.ones(6, 50, 4))  # the input is not modified
    zeroed = (masked == 0).all(dim=-1)
    assert zeroed.any()
    assert int(zeroed.sum(dim=1).max()) <= 16
    noisy = augment(x, lengths, SERTrainingConfig(time_masks=0, feature_noise=0.5))
    padding = torch.arange(50)[None, :] >= lengths[:, None]
    assert torch.equal(noisy[padding], x[padding])
    assert 0.4 < float((noisy - x)[~padding].std()) < 0.6
    torch.manual_seed(3)
    again = augment(
        x, lengths, SERTrainingConfig(time_masks=2, time_mask_frames=8, feature_noise=0.0)
    )
    assert torch.equal(masked, again)  # drawn from torch's seeded RNG
    with pytest.raises(ValueError, match="time_masks"):
        SERTrainingConfig(time_masks=-1)
