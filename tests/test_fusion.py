"""Fusion block, calibration, joint fine-tuning and the IEmoNet object (tiny models)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from emorl.artifacts import ModelFolderError
from emorl.recognizers.calibration import fit_temperature
from emorl.recognizers.fusion.features import fusion_inputs, speech_outputs
from emorl.recognizers.fusion.model import FusionBlock, FusionConfig
from emorl.recognizers.fusion.training import (
    FusionTrainingConfig,
    JointTrainingConfig,
    evaluate_fusion,
    finetune_jointly,
    train_fusion,
)
from emorl.recognizers.iemonet import IEmoNet
from emorl.recognizers.speech.features import FeatureNormalizer
from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

SR = 16000
TEXTS = {
    0: ["it is the account number", "call me please", "this is a number"],
    1: ["i am so happy", "thanks this is great", "wonderful i love it"],
    2: ["i am sad", "sorry i cry", "i lost it alone"],
    3: ["i hate this", "this is awful", "furious and terrible"],
}


def tiny_ter(encoder: Path) -> TextEmotionRecognizer:
    config = TERConfig(encoder=str(encoder), hidden_size=16, frozen_layers=1, max_length=16)
    return TextEmotionRecognizer.create(config, seed=0)


def tiny_ser(sequences: list[np.ndarray], speakers: list[str]) -> SpeechEmotionRecognizer:
    model = SpeechEmotionRecognizer.create(SERConfig(lstm_units=8, trim_db=None), seed=0)
    model.normalizer = FeatureNormalizer.fit(sequences, "speaker", speakers)
    return model


def toy_set(n: int = 48, seed: int = 0):
    """Texts and frame sequences whose class shows in both modalities."""
    rng = np.random.default_rng(seed)
    texts, sequences, labels, speakers = [], [], [], []
    for i in range(n):
        label = i % 4
        texts.append(TEXTS[label][i % 3])
        x = rng.normal(0, 1, size=(int(rng.integers(20, 40)), 32)).astype(np.float32)
        x[:, 0] += 1.5 * label
        sequences.append(x)
        labels.append(label)
        speakers.append(f"s{i % 3}")
    return texts, sequences, labels, speakers


@pytest.fixture(scope="module")
def parts(tiny_encoder: Path):
    texts, sequences, labels, speakers = toy_set()
    return (
        tiny_ter(tiny_encoder),
        tiny_ser(sequences, speakers),
        (texts, sequences, labels, speakers),
    )


def inputs_for(ter, ser, data, states: bool):
    texts, sequences, _, speakers = data
    speech, frame_states = speech_outputs(ser, sequences, speakers, states=states)
    return fusion_inputs(ter.features(texts), speech, frame_states)


@pytest.mark.parametrize("kind", ["feedforward", "attention"])
def test_fusion_learns_and_round_trips(parts, kind: str, tmp_path: Path) -> None:
    ter, ser, data = parts
    inputs = inputs_for(ter, ser, data, states=kind == "attention")
    config = FusionConfig(kind=kind, text_size=16, speech_size=32, state_size=16, hidden_size=32)
    block = FusionBlock.create(config, seed=0)
    before = evaluate_fusion(block, inputs, data[2]).accuracy
    training = FusionTrainingConfig(epochs=40, batch_size=16, learning_rate=1e-2)
    result = train_fusion(block, inputs, data[2], training, progress=False)
    after = evaluate_fusion(block, inputs, data[2]).accuracy
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert after > max(before, 0.6)
    block.temperature = 1.7
    block.save_pretrained(tmp_path / "f", metrics={"accuracy": after})
    saved = json.loads((tmp_path / "f" / "config.json").read_text())
    assert saved["type"] == "fusion" and saved["label2id"]["angry"] == 3
    assert saved["temperature"] == 1.7 and saved["metrics"]["accuracy"] == after
    loaded = FusionBlock.from_pretrained(tmp_path / "f")
    assert loaded.temperature == 1.7
    np.testing.assert_allclose(loaded.logits(inputs), block.logits(inputs), atol=1e-6)
    probs = loaded.probabilities(inputs)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_training_is_deterministic(parts) -> None:
    ter, ser, data = parts
    inputs = inputs_for(ter, ser, data, states=False)
    config = FusionConfig(text_size=16, speech_size=32, hidden_size=8)
    logits = []
    for _ in range(2):
        block = FusionBlock.create(config, seed=3)
        train_fusion(block, inputs, data[2], FusionTrainingConfig(epochs=2), progress=False)
        logits.append(block.logits(inputs))
    np.testing.assert_array_equal(*logits)


def test_attention_block_needs_states(parts) -> None:
    ter, ser, data = parts
    inputs = inputs_for(ter, ser, data, states=False)
    block = FusionBlock.create(FusionConfig(kind="attention", text_size=16, speech_size=32))
    with pytest.raises(ValueError, match="frame states"):
        train_fusion(block, inputs, data[2], FusionTrainingConfig(epochs=1), progress=False)


def test_wrong_feature_width_is_refused(parts) -> None:
    ter, ser, data = parts
    inputs = inputs_for(ter, ser, data, states=False)
    block = FusionBlock.create(FusionConfig(text_size=768, speech_size=32))
    with pytest.raises(ValueError, match="text features have width 16"):
        train_fusion(block, inputs, data[2], FusionTrainingConfig(epochs=1), progress=False)


def test_bad_config_and_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        FusionConfig(kind="gated")
    with pytest.raises(ModelFolderError, match="not found"):
        FusionBlock.from_pretrained(tmp_path / "missing")
    FusionBlock.create(FusionConfig(text_size=4, speech_size=4)).save_pretrained(tmp_path / "b")
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    config["model"]["hidden_size"] = 7
    (tmp_path / "b" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="does not match its config"):
        FusionBlock.from_pretrained(tmp_path / "b")


def test_temperature_scaling_fixes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=2000)
    logits = rng.normal(0, 1, size=(2000, 4))
    logits[np.arange(2000), y] += 1.0
    calibration = fit_temperature(logits * 4.0, y)  # sharpened: overconfident
    assert 3.0 < calibration.temperature < 5.0
    assert calibration.ece_after < calibration.ece_before / 3
    assert calibration.nll_after < calibration.nll_before
    with pytest.raises(ValueError, match="do not match"):
        fit_temperature(logits, y[:10])


def test_joint_finetuning_changes_every_part(parts) -> None:
    ter, ser, data = parts
    import copy

    ter, ser = copy.deepcopy(ter), copy.deepcopy(ser)
    texts, sequences, labels, speakers = data
    block = FusionBlock.create(FusionConfig(text_size=16, speech_size=32, hidden_size=8))
    before = {
        "ter": ter.net.fc.weight.detach().clone(),
        "ser": ser.net.tdnn.weight.detach().clone(),
        "block": block.net.hidden.weight.detach().clone(),
    }
    training = JointTrainingConfig(epochs=1, batch_size=16)
    result = finetune_jointly(
        ter, ser, block, texts, sequences, speakers, labels, training, progress=False
    )
    assert len(result.history["train_loss"]) == 1
    assert not torch.equal(before["ter"], ter.net.fc.weight)
    assert not torch.equal(before["ser"], ser.net.tdnn.weight)
    assert not torch.equal(before["block"], block.net.hidden.weight)


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    envelope = np.minimum(1, np.minimum(t, t[::-1]) * 10)
    return (0.2 * np.sin(2 * np.pi * freq * t) * envelope).astype(np.float32)


class FakeASR:
    """A transcriber stand-in that records its calls."""

    name = "fake"

    def __init__(self, text: str) -> None:
        self.text, self.calls = text, 0

    def transcribe(self, audio, *, sampling_rate=None):
        self.calls += 1

        class Result:
            text = self.text

        return Result()


@pytest.fixture(scope="module")
def iemonet(parts, tmp_path_factory: pytest.TempPathFactory) -> IEmoNet:
    ter, ser, data = parts
    block = FusionBlock.create(
        FusionConfig(kind="attention", text_size=16, speech_size=32, state_size=16)
    )
    block.temperature = 1.3
    model = IEmoNet.from_parts(ter=ter, ser=ser, fusion=block, asr=FakeASR("i am so happy"))
    return model


def test_predict_modes_and_shapes(iemonet: IEmoNet, tmp_path: Path) -> None:
    # tones are no speech: the voice-activity check is off to test the branches
    predict = functools.partial(iemonet.predict, check_speech=False)
    path = tmp_path / "clip.wav"
    sf.write(path, tone(220.0), SR)
    provided = predict(path, "i hate this")
    assert provided.transcript == "i hate this" and provided.transcript_source == "provided"
    assert provided.branches == ("ter", "ser")
    for posteriors in (provided.fused, provided.ser, provided.ter):
        assert list(posteriors) == list(iemonet.labels)
        assert abs(sum(posteriors.values()) - 1) < 1e-5
    assert set(provided.timings) >= {"asr", "features", "ser", "ter", "fusion", "total"}
    automatic = predict(path)
    assert automatic.transcript == "i am so happy" and automatic.transcript_source == "asr"
    noisy = predict(path, "i am so happy and i love it", transcripts="noisy", wer=0.5)
    assert noisy.transcript_source.startswith("noisy")
    assert noisy.transcript != "i am so happy and i love it"
    text_only = predict(transcript="i am sad")
    assert text_only.branches == ("ter",) and text_only.fused == text_only.ter
    audio_only = predict(tone(300.0), sampling_rate=SR, transcripts="none")
    assert audio_only.branches == ("ser",) and audio_only.fused == audio_only.ser
    same = predict(path, "i hate this")
    assert same.fused == provided.fused
    batch = iemonet.probabilities([path, path], ["i hate this", "i hate this"])
    np.testing.assert_allclose(batch[0], list(provided.fused.values()), atol=1e-5)
    with pytest.raises(ValueError, match="needs audio, a transcript"):
        iemonet.predict()
    with pytest.raises(ValueError, match="reference transcript"):
        iemonet.predict(path, transcripts="noisy")


def test_save_load_references_parts(iemonet: IEmoNet, tmp_path: Path) -> None:
    folder = iemonet.save_pretrained(tmp_path / "net", metrics={"ua": 0.5})
    config = json.loads((folder / "config.json").read_text())
    assert config["type"] == "iemonet" and config["parts"]["ter"]["name"] == "ter"
    assert len(config["parts"]["ser"]["sha256"]) == 64 and config["temperature"] == 1.3
    loaded = IEmoNet.from_pretrained(folder, asr=None)
    a = iemonet.predict(tone(200.0), "i am sad", sampling_rate=SR, check_speech=False)
    b = loaded.predict(tone(200.0), "i am sad", sampling_rate=SR, check_speech=False)
    for key in ("fused", "ser", "ter"):
        np.testing.assert_allclose(
            list(getattr(a, key).values()), list(getattr(b, key).values()), atol=1e-5
        )
    assert loaded.asr is None
    # a swapped sub-model with other weights is refused
    other = SpeechEmotionRecognizer.from_pretrained(folder / "ser")
    with torch.no_grad():
        other.net.classifier.bias.add_(1.0)
    other.save_pretrained(folder / "ser")
    with pytest.raises(ModelFolderError, match="SHA-256"):
        IEmoNet.from_pretrained(folder, asr=None)


def test_mismatched_parts_are_refused(parts) -> None:
    ter, ser, _ = parts
    with pytest.raises(ValueError, match="train a fusion block for this TER"):
        IEmoNet.from_parts(ter=ter, ser=ser, fusion=FusionBlock.create(FusionConfig()))


def test_train_fusion_reads_its_temperature_from_an_ood_run(tmp_path: Path) -> None:
    import argparse

    from emorl.cli.fusion import _temperature

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"temperature_mean": 1.25}))
    args = argparse.Namespace(temperature="ood", temperature_note="", ood_results=[results])
    found = _temperature(args)
    assert found["temperature"] == 1.25 and str(results) in found["temperature_note"]
    assert _temperature(argparse.Namespace(temperature="1.5", temperature_note="x",
                                           ood_results=[]))["temperature"] == 1.5  # fmt: skip
    with pytest.raises(ValueError, match="needs --ood-results"):
        _temperature(argparse.Namespace(temperature="ood", temperature_note="", ood_results=[]))
    with pytest.raises(ValueError, match="a number or 'ood'"):
        _temperature(argparse.Namespace(temperature="warm", temperature_note="", ood_results=[]))
    results.write_text("{}")
    with pytest.raises(ValueError, match="no temperature_mean"):
        _temperature(args)
