"""emorl.audio: reading, converting and checking audio input (tiny synthetic signals)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorl.audio import (
    TARGET_SR,
    Audio,
    AudioError,
    AudioPolicy,
    ClippedAudioWarning,
    SilentAudioWarning,
    load_audio,
    load_audio_chunks,
    resample,
    validate_samples,
)

RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"


def sine(seconds: float = 1.0, sr: int = TARGET_SR, freq: float = 440.0, amp: float = 0.5):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def peak_hz(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples))
    return float(np.fft.rfftfreq(len(audio.samples), 1 / audio.sampling_rate)[spectrum.argmax()])


# --------------------------------------------------------------------------- files


def test_wav_16k_mono_int16(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, sine(), TARGET_SR, subtype="PCM_16")
    audio = load_audio(path)
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape == (TARGET_SR,)
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.5, abs=1e-3)
    assert (audio.sampling_rate, audio.original_sampling_rate) == (16000, 16000)
    assert audio.original_channels == 1
    assert audio.duration == pytest.approx(1.0)
    assert audio.source == str(path)
    assert audio.notes == ()
    assert not audio.samples.flags.writeable
    with pytest.raises(ValueError):
        audio.samples[0] = 1.0


@pytest.mark.parametrize(("fmt", "subtype"), [("flac", "PCM_16"), ("ogg", "VORBIS")])
def test_stereo_44k_is_downmixed_and_resampled(tmp_path: Path, fmt: str, subtype: str) -> None:
    left, right = sine(sr=44100, freq=1000.0), sine(sr=44100, freq=1000.0, amp=0.25)
    path = tmp_path / f"a.{fmt}"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype=subtype)
    audio = load_audio(str(path))
    assert abs(len(audio.samples) - 16000) <= 1
    assert audio.original_sampling_rate == 44100 and audio.original_channels == 2
    assert "downmixed 2 channels" in audio.notes
    assert "resampled 44100 -> 16000 Hz" in audio.notes
    assert peak_hz(audio) == pytest.approx(1000.0, abs=2.0)
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.375, abs=0.02)


def test_telephone_8k_is_upsampled(tmp_path: Path) -> None:
    path = tmp_path / "tel.wav"
    sf.write(path, sine(sr=8000, freq=1000.0), 8000)
    audio = load_audio(path)
    assert len(audio.samples) == 16000
    assert "resampled 8000 -> 16000 Hz" in audio.notes
    assert any("upsampled" in note for note in audio.notes)
    assert peak_hz(audio) == pytest.approx(1000.0, abs=2.0)


def test_file_sampling_rate_must_match(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, sine(), TARGET_SR)
    assert load_audio(path, 16000).sampling_rate == 16000
    with pytest.raises(AudioError, match="16000 Hz but sampling_rate=8000"):
        load_audio(path, 8000)


def test_headerless_raw(tmp_path: Path) -> None:
    pcm = (sine(sr=8000) * 32767).astype("<i2")
    path = tmp_path / "a.raw"
    path.write_bytes(pcm.tobytes())
    with pytest.raises(AudioError, match="raw_sampling_rate") as info:
        load_audio(path)
    assert str(path) in str(info.value)
    audio = load_audio(path, raw_sampling_rate=8000)
    assert audio.original_sampling_rate == 8000 and len(audio.samples) == 16000
    same_rate = load_audio(path, raw_sampling_rate=8000, target_sr=8000)
    np.testing.assert_allclose(same_rate.samples, pcm / 32768.0, atol=1e-6)
    odd = tmp_path / "odd.pcm"
    odd.write_bytes(pcm.tobytes() + b"\x00")
    with pytest.raises(AudioError, match="odd"):
        load_audio(odd, raw_sampling_rate=8000)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load_audio(path)


def test_corrupt_and_truncated_files(tmp_path: Path) -> None:
    junk = tmp_path / "x.wav"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError, match="cannot decode") as info:
        load_audio(junk)
    assert str(junk) in str(info.value)
    assert not isinstance(info.value, RuntimeError)

    good = tmp_path / "good.wav"
    sf.write(good, sine(), TARGET_SR)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:20])
    with pytest.raises(AudioError, match="cut.wav"):
        load_audio(cut)

    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


# --------------------------------------------------------------------------- arrays


def test_array_needs_sampling_rate() -> None:
    with pytest.raises(AudioError, match="<array>: sampling_rate is required"):
        load_audio(sine())
    with pytest.raises(TypeError):
        load_audio([0.1, 0.2], 16000)  # type: ignore[arg-type]


def test_array_shapes_and_heuristic() -> None:
    left, right = sine(freq=300.0), sine(freq=500.0, amp=0.3)
    frames_first = load_audio(np.stack([left, right], axis=1), 16000)
    channels_first = load_audio(np.stack([left, right]), 16000)
    np.testing.assert_array_equal(frames_first.samples, channels_first.samples)
    assert frames_first.original_channels == channels_first.original_channels == 2
    np.testing.assert_allclose(frames_first.samples, (left + right) / 2, atol=1e-6)
    assert load_audio(left[None, :], 16000).original_channels == 1
    for bad in (np.zeros((10, 10)) + 0.1, np.full((9, 20000), 0.1), np.zeros((2, 2, 8000))):
        with pytest.raises(AudioError, match="shape"):
            load_audio(bad, 16000)


def test_integer_arrays_are_scaled() -> None:
    wave = sine()
    as_float = load_audio(wave, 16000).samples
    int16 = load_audio((wave * 32768).astype(np.int16), 16000)
    int32 = load_audio((wave * 2**31).astype(np.int32), 16000)
    np.testing.assert_allclose(int16.samples, as_float, atol=1e-4)
    np.testing.assert_allclose(int32.samples, as_float, atol=1e-6)
    assert "scaled int16 to [-1, 1]" in int16.notes
    with pytest.raises(AudioError, match="int64"):
        load_audio((wave * 32768).astype(np.int64), 16000)


def test_caller_array_untouched_and_float64_to_float32() -> None:
    stereo = np.stack([sine(sr=22050), sine(sr=22050, amp=0.2)], axis=1)
    before = stereo.copy()
    audio = load_audio(stereo, 22050)
    np.testing.assert_array_equal(stereo, before)
    assert stereo.flags.writeable and stereo.dtype == np.float64
    assert audio.samples.dtype == np.float32 and not audio.samples.flags.writeable
    assert not np.shares_memory(audio.samples, stereo)
    mono = sine()
    assert not np.shares_memory(load_audio(mono, 16000).samples, mono)


# --------------------------------------------------------------------------- checks


def test_empty_and_non_finite() -> None:
    with pytest.raises(AudioError, match="empty"):
        load_audio(np.zeros(0, dtype=np.float32), 16000)
    wave = sine()
    wave[[3, 70]] = np.nan
    wave[5] = np.inf
    with pytest.raises(AudioError, match="3 of 16000 samples are NaN or inf"):
        load_audio(wave, 16000)


def test_unnormalised_float() -> None:
    with pytest.raises(AudioError, match="32768"):
        load_audio(sine() * 30000, 16000)
    with pytest.raises(AudioError, match=r"scale the samples to \[-1, 1\]"):
        load_audio(sine(amp=1.5), 16000)


def test_silence() -> None:
    with pytest.raises(AudioError, match=r"silent \(RMS -inf dBFS\)"):
        load_audio(np.zeros(16000), 16000)
    faint = sine(amp=1e-4)  # about -83 dBFS
    with pytest.raises(AudioError, match="silent"):
        load_audio(faint, 16000)
    with pytest.warns(SilentAudioWarning):
        audio = load_audio(faint, 16000, policy=AudioPolicy(silence="warn"))
    assert any(note.startswith("silent (RMS -8") for note in audio.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_audio(faint, 16000, policy=AudioPolicy(silence="ignore")).notes == ()


def test_opposite_stereo_channels_cancel() -> None:
    wave = sine()
    stereo = np.stack([wave, -wave], axis=1)
    with pytest.raises(AudioError, match="silent"):
        load_audio(stereo, 16000)
    audio = load_audio(stereo, 16000, policy=AudioPolicy(silence="ignore"))
    assert np.max(np.abs(audio.samples)) < 1e-6
    assert "downmixed 2 channels" in audio.notes


def test_too_short() -> None:
    with pytest.raises(AudioError, match=r"too short: 0\.200 s"):
        load_audio(sine(0.2), 16000)
    assert load_audio(sine(0.2), 16000, policy=AudioPolicy(min_seconds=0.1)).duration == 0.2


def test_long_audio_policies() -> None:
    wave = sine(2.5, sr=8000)
    with pytest.raises(AudioError, match="too long: 2.5 s > max_seconds 1.0") as info:
        load_audio(wave, 8000, policy=AudioPolicy(max_seconds=1.0))
    assert 'long_audio="truncate"' in str(info.value)
    assert "load_audio_chunks" in str(info.value)
    audio = load_audio(wave, 8000, policy=AudioPolicy(max_seconds=1.0, long_audio="truncate"))
    assert len(audio.samples) == 16000 and audio.duration == 1.0
    assert "truncated 2.5 s to 1.0 s" in audio.notes
    with pytest.raises(ValueError, match="load_audio_chunks"):
        load_audio(wave, 8000, policy=AudioPolicy(long_audio="chunk"))
    assert load_audio(wave, 8000, policy=AudioPolicy(max_seconds=None)).duration == 2.5


def test_clipping() -> None:
    clipped = np.clip(sine(amp=2.0), -1.0, 1.0)
    with pytest.warns(ClippedAudioWarning, match="<array>: clipped"):
        audio = load_audio(clipped, 16000)
    assert any(note.startswith("clipped ") and "% of samples" in note for note in audio.notes)
    assert np.max(np.abs(audio.samples)) <= 1.0
    with pytest.raises(AudioError, match="heavily clipped"):
        load_audio(clipped, 16000, policy=AudioPolicy(clipping="error"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_audio(clipped, 16000, policy=AudioPolicy(clipping="ignore")).notes == ()
        spiky = sine()
        spiky[::200] = 1.0  # 0.5 % of samples at full scale: below clip_fraction
        load_audio(spiky, 16000)


def test_validate_samples_directly() -> None:
    assert validate_samples(sine().astype(np.float32), 16000, "mic", AudioPolicy()) == ()
    with pytest.raises(AudioError, match="^mic: empty"):
        validate_samples(np.zeros(0), 16000, "mic", AudioPolicy())
    with pytest.warns(SilentAudioWarning):
        notes = validate_samples(np.zeros((16000, 2)), 16000, "mic", AudioPolicy(silence="warn"))
    assert notes == ("silent (RMS -inf dBFS)",)


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="long_audio"):
        AudioPolicy(long_audio="split")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_seconds"):
        AudioPolicy(min_seconds=2.0, max_seconds=1.0)


# --------------------------------------------------------------------------- chunks, resample


def test_chunks() -> None:
    policy = AudioPolicy(max_seconds=1.0)
    chunks = load_audio_chunks(sine(2.5), 16000, chunk_seconds=1.0, policy=policy)
    assert [c.duration for c in chunks] == [1.0, 1.0, 0.5]
    assert [c.offset for c in chunks] == [0.0, 1.0, 2.0]
    assert "chunk 3 of 3 (2.0-2.5 s)" in chunks[2].notes
    np.testing.assert_array_equal(
        np.concatenate([c.samples for c in chunks]), load_audio(sine(2.5), 16000).samples
    )
    merged = load_audio_chunks(sine(2.2, sr=8000), 8000, chunk_seconds=1.0, policy=policy)
    assert [c.duration for c in merged] == [1.0, 1.2]
    assert all(c.sampling_rate == 16000 for c in merged)
    (single,) = load_audio_chunks(sine(0.5), 16000, chunk_seconds=1.0)
    assert single.duration == 0.5 and single.notes == ()


def test_chunk_silence_names_span() -> None:
    wave = np.concatenate([sine(1.0), np.zeros(16000)])
    with pytest.raises(AudioError, match=r"<array> \[1\.0-2\.0 s\]: silent"):
        load_audio_chunks(wave, 16000, chunk_seconds=1.0)
    with pytest.raises(ValueError, match="max_seconds"):
        load_audio_chunks(wave, 16000, chunk_seconds=90.0)


def test_resample_function() -> None:
    out = resample(sine(sr=44100), 44100, 16000)
    assert out.dtype == np.float32 and len(out) == 16000
    same = sine().astype(np.float32)
    copy = resample(same, 16000, 16000)
    assert copy.dtype == np.float32 and not np.shares_memory(copy, same)
    assert resample(np.zeros((22050, 2)), 22050, 16000).shape == (16000, 2)


# --------------------------------------------------------------------------- real data


@pytest.mark.data
def test_ravdess_flac() -> None:
    files = sorted(RAVDESS.glob("Actor_*/*.flac"))[:1] if RAVDESS.is_dir() else []
    if not files:
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    audio = load_audio(files[0])
    assert audio.sampling_rate == 16000
    assert 2.0 <= audio.duration <= 6.0


def test_quiet_speech_between_long_pauses_is_not_silence() -> None:
    # A 0.25 s tone at -50 dBFS inside 4 s of near-silence: the clip's average RMS is
    # below -60 dBFS (like some real RAVDESS recordings), but it is not silent.
    sr = 16000
    x = np.full(4 * sr, 1e-5, dtype=np.float32)
    t = np.arange(sr // 4) / sr
    tone = 10 ** (-50 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 200 * t)
    x[sr : sr + sr // 4] += tone.astype(np.float32)
    average = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert average < -60
    audio = load_audio(x, sr)
    assert audio.duration == pytest.approx(4.0)
    with pytest.raises(AudioError, match="silent"):
        load_audio(np.full(4 * sr, 1e-5, dtype=np.float32), sr)
