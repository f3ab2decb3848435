"""Robustness of audio input: truncated files, no speech, stereo arrays, bad arguments,
and CLI messages that name the CLI's own options."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorl.audio import (
    AudioError,
    AudioPolicy,
    NoSpeechWarning,
    TruncatedAudioWarning,
    detect_speech,
    load_audio,
)
from emorl.cli import main
from emorl.recognizers.iemonet import IEmoNet
from emorl.recognizers.speech.model import SpeechEmotionRecognizer

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import flat  # noqa: E402

SR = 16000
LABELS = ["neutral", "happy", "sad", "angry"]


def noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal(int(seconds * SR))).clip(-1, 1).astype(np.float32)


def tone(seconds: float = 2.0, freq: float = 180.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def ser() -> SpeechEmotionRecognizer:
    return SpeechEmotionRecognizer.from_pretrained()


@pytest.fixture(scope="module")
def iemonet() -> IEmoNet:
    return IEmoNet.from_pretrained(asr=None)


@pytest.fixture(scope="module")
def speech_clip(shared_data: Path) -> Path:
    clip = shared_data / "ravdess" / "Actor_01" / "03-01-05-01-01-01-01.flac"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    return clip


# --- row 7: truncated WAV --------------------------------------------------------------


def test_truncated_wav_is_noted_with_what_is_missing(tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    sf.write(full, tone(1.0), SR, subtype="PCM_16")
    data = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: 44 + 16000])  # header + 0.5 s of the promised 1.0 s
    with pytest.warns(TruncatedAudioWarning, match=r"0\.500 s missing"):
        audio = load_audio(cut)
    assert any("truncated file: header promises 1.000 s" in n for n in audio.notes)
    with pytest.raises(AudioError, match="truncated file"):
        load_audio(cut, policy=AudioPolicy(truncated="error"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedAudioWarning)
        assert not load_audio(full).notes


# --- row 8: no speech, no emotion ----------------------------------------------------------


def test_vad_finds_no_speech_in_noise_or_a_tone() -> None:
    assert not detect_speech(noise(), SR).has_speech
    assert not detect_speech(tone(), SR).has_speech


def test_vad_finds_speech(speech_clip: Path) -> None:
    check = detect_speech(speech_clip)
    assert check.has_speech and check.speech_seconds > 1.0


def test_ser_abstains_on_noise(ser: SpeechEmotionRecognizer) -> None:
    with pytest.warns(NoSpeechWarning, match="no speech"):
        probs = ser.predict_proba(noise(), sampling_rate=SR)
    assert probs == pytest.approx(dict.fromkeys(LABELS, 0.25))
    with pytest.warns(NoSpeechWarning):
        assert ser.predict(noise(), sampling_rate=SR) is None
    raw = ser.predict_proba(noise(), sampling_rate=SR, check_speech=False)
    assert max(raw.values()) > 0.25  # what it claimed before: a confident emotion


def test_ser_keeps_speech(ser: SpeechEmotionRecognizer, speech_clip: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSpeechWarning)
        probs = ser.predict_proba(speech_clip)
        assert ser.predict(speech_clip) in LABELS
    assert probs == ser.predict_proba(speech_clip, check_speech=False)


def test_iemonet_abstains_on_noise(iemonet: IEmoNet) -> None:
    with pytest.warns(NoSpeechWarning):
        result = iemonet.predict(noise(), sampling_rate=SR, transcripts="none")
    assert result.abstained and result.label is None and result.branches == ()
    assert result.fused == pytest.approx(dict.fromkeys(LABELS, 0.25))
    assert any(n.startswith("no speech detected") for n in result.notes)
    assert result.to_dict()["abstained"] is True and result.to_dict()["label"] is None
    with pytest.warns(NoSpeechWarning):
        with_text = iemonet.predict(noise(), "I am so angry with you!", sampling_rate=SR)
    assert not with_text.abstained and with_text.branches == ("ter",)
    assert with_text.ser is None and with_text.fused == with_text.ter


def test_iemonet_keeps_speech(iemonet: IEmoNet, speech_clip: Path) -> None:
    result = iemonet.predict(speech_clip, "Kids are talking by the door.")
    assert not result.abstained and result.branches == ("ter", "ser")
    assert result.label in LABELS


def test_recognize_noise_prints_no_emotion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "noise.wav"
    sf.write(path, noise(), SR)
    assert main(["recognize", str(path), "--transcripts", "none", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["label"] is None and data["abstained"] is True
    assert main(["recognize", str(path), "--transcripts", "none"]) == 0
    assert "no emotion (no speech detected)" in flat(capsys.readouterr().err)


# --- row 9: a (2, n) stereo array is one clip ---------------------------------------------


def test_stereo_array_is_downmixed_not_a_batch(ser: SpeechEmotionRecognizer) -> None:
    left, right = tone(2.0, 200.0), tone(2.0, 330.0)
    stereo = np.stack([left, right])  # (2, n)
    probs = ser.predict_proba(stereo, sampling_rate=SR, check_speech=False)
    assert isinstance(probs, dict) and list(probs) == LABELS
    mono = ((left.astype(np.float64) + right) / 2).astype(np.float32)
    expected = ser.predict_proba(mono, sampling_rate=SR, check_speech=False)
    assert probs == pytest.approx(expected, abs=1e-5)
    assert ser.features(stereo, sampling_rate=SR).shape == (1, 256)
    batch = ser.predict_proba([left, right], sampling_rate=SR, check_speech=False)
    assert isinstance(batch, list) and len(batch) == 2


# --- row 10: IEmoNet.predict arguments ---------------------------------------------------


def test_blank_transcript_without_audio(iemonet: IEmoNet) -> None:
    with pytest.raises(ValueError, match="transcript is empty and no audio"):
        iemonet.predict(transcript="  ")


def test_transcript_of_the_wrong_type(iemonet: IEmoNet) -> None:
    with pytest.raises(TypeError, match="transcript must be a string, got int"):
        iemonet.predict(tone(), 123, sampling_rate=SR)
    with pytest.raises(TypeError, match="audio must be a file path or a numpy array"):
        iemonet.predict([0.0] * 16000, "hello")


# --- row 11: recognize a directory -------------------------------------------------------


def test_recognize_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recognize", str(tmp_path)]) == 2
    err = flat(capsys.readouterr().err)
    assert "is a directory" in err and "no such audio file" not in err


# --- row 12: CLI messages name the CLI's options -------------------------------------------


def test_long_audio_names_max_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, noise(61.0), SR)
    assert main(["recognize", str(path), "--transcripts", "none"]) == 2
    err = flat(capsys.readouterr().err)
    assert "--max-seconds" in err and "AudioPolicy" not in err and "max_seconds " not in err
    assert main(["recognize", str(path), "--transcripts", "none", "--max-seconds", "90"]) == 0
    capsys.readouterr()
    argv = ["recognize", str(path), "--transcripts", "none", "--long-audio", "truncate"]
    assert main([*argv, "--json"]) == 0
    assert any("truncated 61.0 s" in n for n in json.loads(capsys.readouterr().out)["notes"])


def test_raw_file_names_raw_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clip.raw"
    path.write_bytes((noise(1.0) * 32767).astype("<i2").tobytes())
    assert main(["recognize", str(path), "--transcripts", "none"]) == 2
    err = flat(capsys.readouterr().err)
    assert "--raw-rate" in err and "raw_sampling_rate" not in err
    assert main(["recognize", str(path), "--transcripts", "none", "--raw-rate", "16000"]) == 0
