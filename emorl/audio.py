"""Audio input: the one place where audio enters emorl.

Everything downstream (speech emotion recognition, ASR, the microphone demo) gets 16 kHz
(:data:`TARGET_SR`) mono float32 samples in [-1, 1], read-only, wrapped in :class:`Audio` with
notes saying what was done to them.

Sources
    * A file soundfile (libsndfile) can decode: wav, flac, ogg (vorbis/opus), mp3, aiff, ...
      Integer PCM becomes float in [-1, 1]. Others (m4a, aac, webm, ...): convert first, e.g.
      ``ffmpeg -i in.m4a -ac 1 -ar 16000 out.wav``.
    * A headerless ``.raw`` / ``.pcm`` file: read as 16-bit little-endian mono PCM, only when
      ``raw_sampling_rate`` is given.
    * A numpy array with its ``sampling_rate``. Shapes ``(n,)``, ``(n, channels)`` or
      ``(channels, n)``: a 2-D array is read with its smaller axis as channels, which must be
      at most 8 and fewer than the samples. int8/int16/int32 are scaled to [-1, 1] (uint8 as
      8-bit WAV, centred on 128); float64/float16 become float32. The caller's array is never
      modified.

What is done (each recorded in ``Audio.notes``)
    * Several channels are averaged to mono: ``"downmixed 2 channels"``.
    * Another rate is resampled to the target with :func:`scipy.signal.resample_poly`:
      ``"resampled 44100 -> 16000 Hz"``. Upsampling (8 kHz telephone audio) is allowed and
      also noted, as it adds no content above the original Nyquist frequency.
    * Resampling overshoot beyond [-1, 1] is limited back to [-1, 1] (noted when any).

Bad input, and what happens (``AudioPolicy`` sets the choices)
    * missing file: ``FileNotFoundError`` naming the path.
    * undecodable file (corrupt, truncated header, unknown format): :class:`AudioError` with the
      path and the decoder's reason; ``.raw``/``.pcm`` without ``raw_sampling_rate`` or with an
      odd number of bytes: :class:`AudioError`.
    * array without ``sampling_rate``, unsupported shape or dtype: :class:`AudioError`.
    * no samples: :class:`AudioError` ``"empty"``.
    * NaN or inf: :class:`AudioError` with the number of such samples.
    * float samples with peak above 1.0 (not normalised, e.g. int16 values stored as float):
      :class:`AudioError` suggesting how to scale.
    * shorter than ``min_seconds`` (0.3 s): :class:`AudioError` with the duration.
    * longer than ``max_seconds`` (60 s): ``long_audio="error"`` (default) raises
      :class:`AudioError` suggesting ``long_audio="truncate"`` or :func:`load_audio_chunks`;
      ``"truncate"`` keeps the first ``max_seconds``; ``"chunk"`` is for
      :func:`load_audio_chunks` only (``ValueError`` in :func:`load_audio`).
    * silent (the loudest 50 ms of the mono mix has an RMS below ``silence_rms_dbfs``, -60 dBFS,
      relative to 1.0; quiet speech between long pauses is not silence):
      ``silence="error"`` (default) raises ``"silent (RMS -inf dBFS)"``; ``"warn"`` issues
      :class:`SilentAudioWarning` and a note; ``"ignore"`` skips the check. Note that opposite
      channels (L = -R) average to silence.
    * heavily clipped (more than ``clip_fraction``, 1 %, of the samples at ``|x| >= 0.999``,
      counted over all channels before downmixing): ``clipping="warn"`` (default) issues
      :class:`ClippedAudioWarning` and a note ``"clipped 3.1% of samples"``; ``"error"`` raises;
      ``"ignore"`` skips the check.

    * a truncated file (a WAV whose header promises more samples than the file holds, or any
      file that decodes to fewer frames than its header says): ``truncated="warn"`` (default)
      issues :class:`TruncatedAudioWarning` and a note ``"truncated file: header promises
      3.000 s, data holds 1.250 s (1.750 s missing)"``; ``"error"`` raises; ``"ignore"`` reads
      what is there silently.

The checks run on the samples as read (at the original rate, after any truncation), in that
order; :func:`validate_samples` runs them on their own.

Speech presence
    :func:`detect_speech` runs the Silero voice-activity model (shipped inside faster-whisper,
    as used by the ASR and the demo) on loaded audio and says how many seconds of speech it
    holds. The emotion recognizers call it before claiming an emotion: white noise, music or a
    tone gives no speech, and they abstain (see ``SpeechEmotionRecognizer.predict`` and
    ``IEmoNet.predict``) instead of returning a confident emotion.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "DEFAULT_POLICY",
    "TARGET_SR",
    "Audio",
    "AudioError",
    "AudioPolicy",
    "AudioWarning",
    "ClippedAudioWarning",
    "NoSpeechWarning",
    "SilentAudioWarning",
    "SpeechCheck",
    "TruncatedAudioWarning",
    "detect_speech",
    "load_audio",
    "load_audio_chunks",
    "resample",
    "validate_samples",
]

TARGET_SR = 16000
SILENCE_WINDOW_SECONDS = 0.05
ARRAY_SOURCE = "<array>"
RAW_SUFFIXES = frozenset({".raw", ".pcm"})
MAX_CHANNELS = 8
CLIP_LEVEL = 0.999


class AudioError(ValueError):
    """Audio that cannot be used; the message names the source and the problem."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class AudioWarning(UserWarning):
    """Base class of the warnings about usable but doubtful audio."""


class ClippedAudioWarning(AudioWarning):
    """A large share of the samples sits at full scale."""


class SilentAudioWarning(AudioWarning):
    """The audio is (almost) silent."""


class TruncatedAudioWarning(AudioWarning):
    """The file holds fewer samples than its header promises (cut off while copying?)."""


class NoSpeechWarning(AudioWarning):
    """The voice-activity detector found no speech: no emotion is claimed."""


@dataclass(frozen=True)
class AudioPolicy:
    """What to do with long, clipped, silent or short audio (see the module docstring)."""

    min_seconds: float = 0.3
    max_seconds: float | None = 60.0
    long_audio: Literal["error", "truncate", "chunk"] = "error"
    clipping: Literal["error", "warn", "ignore"] = "warn"
    clip_fraction: float = 0.01
    silence_rms_dbfs: float = -60.0
    silence: Literal["error", "warn", "ignore"] = "error"
    truncated: Literal["error", "warn", "ignore"] = "warn"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("long_audio", ("error", "truncate", "chunk")),
            ("clipping", ("error", "warn", "ignore")),
            ("silence", ("error", "warn", "ignore")),
            ("truncated", ("error", "warn", "ignore")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.min_seconds >= 0:
            raise ValueError(f"min_seconds must be >= 0, got {self.min_seconds}")
        if self.max_seconds is not None and not self.max_seconds > self.min_seconds:
            raise ValueError(
                f"max_seconds ({self.max_seconds}) must be > min_seconds ({self.min_seconds})"
            )
        if not 0 <= self.clip_fraction <= 1:
            raise ValueError(f"clip_fraction must be in [0, 1], got {self.clip_fraction}")
        if math.isnan(self.silence_rms_dbfs):
            raise ValueError("silence_rms_dbfs must be a number")


DEFAULT_POLICY = AudioPolicy()


@dataclass(frozen=True, eq=False, repr=False)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sampling_rate``, read-only, and their history.

    Compared by identity (arrays have no single truth value). ``offset`` is the start in
    seconds within the source (non-zero for chunks after the first).
    """

    samples: np.ndarray
    sampling_rate: int
    source: str
    original_sampling_rate: int
    original_channels: int
    duration: float
    notes: tuple[str, ...] = ()
    offset: float = 0.0

    def __repr__(self) -> str:
        return (
            f"Audio(source={self.source!r}, sampling_rate={self.sampling_rate}, "
            f"duration={self.duration:.3f}, offset={self.offset:.3f}, "
            f"original={self.original_sampling_rate} Hz x {self.original_channels}, "
            f"notes={self.notes!r})"
        )


# --------------------------------------------------------------------------- public API


def load_audio(
    source: str | Path | np.ndarray,
    sampling_rate: int | None = None,
    *,
    target_sr: int = TARGET_SR,
    policy: AudioPolicy = DEFAULT_POLICY,
    raw_sampling_rate: int | None = None,
) -> Audio:
    """Read a file or array, check it, and return it mono at ``target_sr``.

    ``sampling_rate`` is required for an array; for a file it is optional and, when given, must
    match the file's rate. ``raw_sampling_rate`` is the rate of a headerless ``.raw``/``.pcm``
    file (16-bit little-endian mono); it is ignored for files with a header.
    """
    if policy.long_audio == "chunk":
        raise ValueError(
            'long_audio="chunk" needs several results: call load_audio_chunks(...) instead'
        )
    target_sr = _check_rate(target_sr, "target_sr")
    data, sr, name, notes = _read(source, sampling_rate, raw_sampling_rate, policy)
    channels = data.shape[1]
    notes = list(notes)
    if policy.max_seconds is not None and policy.long_audio == "truncate":
        keep = int(round(policy.max_seconds * sr))
        if data.shape[0] > keep:
            notes.append(f"truncated {data.shape[0] / sr:.1f} s to {keep / sr:.1f} s")
            data = data[:keep]
    notes += _validate(data, sr, name, policy, stacklevel=3)
    mono, more = _to_mono_target(data, sr, target_sr)
    return _make_audio(mono, target_sr, name, sr, channels, (*notes, *more))


def load_audio_chunks(
    source: str | Path | np.ndarray,
    sampling_rate: int | None = None,
    *,
    chunk_seconds: float = 30.0,
    target_sr: int = TARGET_SR,
    policy: AudioPolicy = DEFAULT_POLICY,
    raw_sampling_rate: int | None = None,
) -> list[Audio]:
    """Read like :func:`load_audio`, then split into consecutive ``chunk_seconds`` pieces.

    Audio no longer than ``chunk_seconds`` gives one chunk. A last piece shorter than
    ``policy.min_seconds`` is merged into the previous chunk (which can then exceed
    ``chunk_seconds`` by less than ``min_seconds``). ``policy.long_audio`` is not used;
    ``chunk_seconds`` may not exceed ``policy.max_seconds``. The silence check runs per chunk
    (the error names the chunk's time span); the other checks run once on the whole.
    Each chunk carries its ``offset`` and a note ``"chunk 2 of 4 (30.0-60.0 s)"``.
    """
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be > 0, got {chunk_seconds}")
    if chunk_seconds < policy.min_seconds:
        raise ValueError(
            f"chunk_seconds ({chunk_seconds}) must be >= policy.min_seconds ({policy.min_seconds})"
        )
    if policy.max_seconds is not None and chunk_seconds > policy.max_seconds:
        raise ValueError(
            f"chunk_seconds ({chunk_seconds}) must be <= policy.max_seconds ({policy.max_seconds})"
        )
    target_sr = _check_rate(target_sr, "target_sr")
    data, sr, name, notes = _read(source, sampling_rate, raw_sampling_rate, policy)
    channels = data.shape[1]
    whole_policy = replace(policy, long_audio="chunk", silence="ignore")
    notes = (*notes, *_validate(data, sr, name, whole_policy, stacklevel=3))
    mono, more = _to_mono_target(data, sr, target_sr)
    notes = (*notes, *more)

    size = max(1, int(round(chunk_seconds * target_sr)))
    starts = list(range(0, len(mono), size))
    if len(starts) > 1 and (len(mono) - starts[-1]) < policy.min_seconds * target_sr:
        starts.pop()
    bounds = [*starts[1:], len(mono)]
    chunks = []
    for index, (start, stop) in enumerate(zip(starts, bounds, strict=True), 1):
        piece = mono[start:stop]
        span = f"{start / target_sr:.1f}-{stop / target_sr:.1f} s"
        chunk_notes = list(notes)
        if len(starts) > 1:
            chunk_notes.append(f"chunk {index} of {len(starts)} ({span})")
        chunk_notes += _check_silence(piece, target_sr, f"{name} [{span}]", policy, stacklevel=3)
        chunks.append(
            _make_audio(
                piece, target_sr, name, sr, channels, tuple(chunk_notes), offset=start / target_sr
            )
        )
    return chunks


def validate_samples(
    samples: np.ndarray, sampling_rate: int, source: str, policy: AudioPolicy
) -> tuple[str, ...]:
    """Run the input checks on float ``samples`` (``(n,)`` or ``(n, channels)``).

    Raises :class:`AudioError` for empty, non-finite, unnormalised, too short, too long
    (``long_audio="error"`` only; others pass) and, per ``policy``, silent or clipped audio.
    Returns the notes (warned silence or clipping); warnings are issued here.
    """
    return _validate(samples, sampling_rate, source, policy, stacklevel=3)


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the first axis with ``resample_poly`` at the reduced ratio; float32.

    Output length is ``ceil(n * target_sr / orig_sr)``. Equal rates return a float32 copy.
    """
    from scipy.signal import resample_poly

    orig_sr = _check_rate(orig_sr, "orig_sr")
    target_sr = _check_rate(target_sr, "target_sr")
    x = np.asarray(samples)
    if orig_sr == target_sr:
        return x.astype(np.float32, copy=True)
    g = math.gcd(orig_sr, target_sr)
    out = resample_poly(x.astype(np.float32, copy=False), target_sr // g, orig_sr // g, axis=0)
    return np.asarray(out, dtype=np.float32)


# --------------------------------------------------------------------------- reading


def _read(
    source: str | Path | np.ndarray,
    sampling_rate: int | None,
    raw_sampling_rate: int | None,
    policy: AudioPolicy = DEFAULT_POLICY,
) -> tuple[np.ndarray, int, str, tuple[str, ...]]:
    """(frames x channels float32 array, rate, source name, notes)."""
    if isinstance(source, np.ndarray):
        if raw_sampling_rate is not None:
            raise ValueError(
                "raw_sampling_rate is for headerless .raw/.pcm files; pass sampling_rate for arrays"
            )
        if sampling_rate is None:
            raise AudioError(
                ARRAY_SOURCE, "sampling_rate is required for array input, e.g. load_audio(x, 16000)"
            )
        sr = _check_rate(sampling_rate, "sampling_rate", ARRAY_SOURCE)
        data, notes = _from_array(source)
        return data, sr, ARRAY_SOURCE, notes
    if isinstance(source, (str, Path)):
        data, sr = _from_file(Path(source), sampling_rate, raw_sampling_rate)
        notes = _check_truncated(Path(source), data.shape[0], sr, policy, stacklevel=4)
        return data, sr, str(source), notes
    kind = type(source).__name__
    raise TypeError(f"audio source must be a file path or a numpy array, got {kind}")


def _from_file(
    path: Path, sampling_rate: int | None, raw_sampling_rate: int | None
) -> tuple[np.ndarray, int]:
    name = str(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {name}")
    if path.is_dir():
        raise AudioError(name, "is a directory, not an audio file")
    if path.suffix.lower() in RAW_SUFFIXES:
        if raw_sampling_rate is None:
            raise AudioError(
                name,
                "headerless raw PCM has no sampling rate: pass raw_sampling_rate=... "
                "(read as 16-bit little-endian mono)",
            )
        sr = _check_rate(raw_sampling_rate, "raw_sampling_rate", name)
        raw = path.read_bytes()
        if len(raw) % 2:
            raise AudioError(name, f"{len(raw)} bytes is odd: not 16-bit PCM")
        data = (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0)[:, None]
    else:
        import soundfile as sf

        try:
            data, sr = sf.read(name, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as exc:
            reason = getattr(exc, "error_string", None) or str(exc)
            raise AudioError(
                name,
                f"cannot decode ({reason}); soundfile reads wav, flac, ogg, mp3, aiff and "
                "similar; convert others, e.g. ffmpeg -i IN -ac 1 -ar 16000 OUT.wav",
            ) from exc
    if sampling_rate is not None:
        given = _check_rate(sampling_rate, "sampling_rate", name)
        if given != sr:
            raise AudioError(name, f"file is {sr} Hz but sampling_rate={given} was given")
    return np.ascontiguousarray(data, dtype=np.float32), int(sr)


def _from_array(array: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """A new float32 frames x channels array; ``array`` itself is left untouched."""
    dtype = array.dtype
    notes: tuple[str, ...] = ()
    if dtype.kind == "f":
        data = array.astype(np.float32, copy=True)
    elif dtype.kind == "i" and dtype.itemsize <= 4:
        scale = float(2 ** (8 * dtype.itemsize - 1))
        data = (array.astype(np.float64) / scale).astype(np.float32)
        notes = (f"scaled {dtype.name} to [-1, 1]",)
    elif dtype == np.uint8:
        data = ((array.astype(np.float64) - 128.0) / 128.0).astype(np.float32)
        notes = ("scaled uint8 to [-1, 1]",)
    else:
        raise AudioError(
            ARRAY_SOURCE,
            f"unsupported dtype {dtype}: use float32/float64 in [-1, 1], int16, int32 or uint8"
            + (" (cast int64 PCM to int16 or int32 first)" if dtype.kind in "iu" else ""),
        )
    if data.size == 0:
        raise AudioError(ARRAY_SOURCE, "empty (0 samples)")
    if data.ndim == 1:
        data = data[:, None]
    elif data.ndim == 2:
        rows, cols = data.shape
        if cols <= MAX_CHANNELS and rows > cols:
            pass
        elif rows <= MAX_CHANNELS and cols > rows:
            data = np.ascontiguousarray(data.T)
        else:
            raise AudioError(
                ARRAY_SOURCE,
                f"shape {array.shape}: expected (n,), (n, channels) or (channels, n) "
                f"with at most {MAX_CHANNELS} channels and more samples than channels",
            )
    else:
        raise AudioError(ARRAY_SOURCE, f"shape {array.shape}: expected a 1-D or 2-D array")
    return data, notes


# --------------------------------------------------------------------------- checks


def _wav_promised_frames(path: Path) -> int | None:
    """Frames the ``data`` chunk of a RIFF/WAVE header declares (None: not a WAV, or unknown)."""
    import struct

    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = handle.read(size + (size & 1))
                    if len(fmt) >= 14:
                        block_align = struct.unpack("<H", fmt[12:14])[0]
                    continue
                if cid == b"data":
                    # 0 and 0xFFFFFFFF mark a stream written without a final length
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block_align
                handle.seek(size + (size & 1), 1)
    except OSError:
        return None


def _check_truncated(
    path: Path, frames: int, sr: int, policy: AudioPolicy, *, stacklevel: int
) -> tuple[str, ...]:
    """Compare the frames read with what the header promises; note, warn or raise."""
    if policy.truncated == "ignore" or path.suffix.lower() in RAW_SUFFIXES:
        return ()
    promised = _wav_promised_frames(path)
    if promised is None:
        try:
            import soundfile as sf

            promised = int(sf.info(str(path)).frames)
        except Exception:  # the read itself succeeded; a header we cannot size is no fault
            return ()
    if promised <= frames:
        return ()
    problem = (
        f"truncated file: header promises {promised / sr:.3f} s ({promised} frames), data "
        f"holds {frames / sr:.3f} s ({frames} frames): {(promised - frames) / sr:.3f} s missing"
    )
    if policy.truncated == "error":
        raise AudioError(str(path), problem)
    warnings.warn(f"{path}: {problem}", TruncatedAudioWarning, stacklevel=stacklevel)
    return (problem,)


def _validate(
    samples: np.ndarray, sr: int, source: str, policy: AudioPolicy, *, stacklevel: int
) -> tuple[str, ...]:
    x = np.asarray(samples)
    sr = _check_rate(sr, "sampling_rate", source)
    if x.size == 0:
        raise AudioError(source, "empty (0 samples)")
    if x.ndim not in (1, 2):
        raise AudioError(source, f"shape {x.shape}: expected (n,) or (n, channels)")
    bad = int(x.size - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise AudioError(source, f"{bad} of {x.size} samples are NaN or inf")
    peak = float(np.max(np.abs(x)))
    if peak > 1.0:
        hint = (
            "values look like int16 PCM stored as float: divide by 32768 "
            "(or pass the int16 array itself)"
            if peak <= 32768.0 and peak > 2.0
            else "scale the samples to [-1, 1] (e.g. divide by the full-scale value)"
        )
        raise AudioError(source, f"float samples peak at {peak:g} > 1.0 (not normalised): {hint}")
    frames = x.shape[0]
    duration = frames / sr
    if duration < policy.min_seconds:
        raise AudioError(
            source, f"too short: {duration:.3f} s < min_seconds {policy.min_seconds} s"
        )
    if (
        policy.max_seconds is not None
        and policy.long_audio == "error"
        and frames > round(policy.max_seconds * sr)
    ):
        raise AudioError(
            source,
            f"too long: {duration:.1f} s > max_seconds {policy.max_seconds} s; pass "
            'policy=AudioPolicy(long_audio="truncate") to keep the start, or use '
            "load_audio_chunks(...) to split it",
        )
    notes = list(_check_silence(x, sr, source, policy, stacklevel=stacklevel + 1))
    if policy.clipping != "ignore":
        share = np.count_nonzero(np.abs(x) >= CLIP_LEVEL) / x.size
        if share > policy.clip_fraction:
            problem = f"clipped {100 * share:.1f}% of samples"
            if policy.clipping == "error":
                raise AudioError(
                    source,
                    f"heavily clipped: {100 * share:.1f}% of samples at |x| >= {CLIP_LEVEL} "
                    f"(limit {100 * policy.clip_fraction:.1f}%)",
                )
            warnings.warn(f"{source}: {problem}", ClippedAudioWarning, stacklevel=stacklevel)
            notes.append(problem)
    return tuple(notes)


def _loudest_window_rms(mono: np.ndarray, window: int) -> float:
    """RMS of the loudest window of ``window`` samples (of the whole signal if shorter)."""
    if mono.size == 0:
        return 0.0
    if mono.size <= window:
        return float(np.sqrt(np.mean(np.square(mono))))
    cumulative = np.concatenate(([0.0], np.cumsum(np.square(mono))))
    energy = (cumulative[window:] - cumulative[:-window]) / window  # moving mean, O(n)
    return float(np.sqrt(max(energy.max(), 0.0)))


def _check_silence(
    x: np.ndarray, sampling_rate: int, source: str, policy: AudioPolicy, *, stacklevel: int
) -> tuple[str, ...]:
    if policy.silence == "ignore":
        return ()
    mono = x.mean(axis=1, dtype=np.float64) if x.ndim == 2 else x.astype(np.float64)
    rms = _loudest_window_rms(mono, max(1, int(sampling_rate * SILENCE_WINDOW_SECONDS)))
    dbfs = 20 * math.log10(rms) if rms > 0 else -math.inf
    if dbfs >= policy.silence_rms_dbfs:
        return ()
    problem = f"silent (RMS {dbfs:.1f} dBFS)" if rms > 0 else "silent (RMS -inf dBFS)"
    if policy.silence == "error":
        raise AudioError(source, f"{problem}, below silence_rms_dbfs {policy.silence_rms_dbfs}")
    warnings.warn(f"{source}: {problem}", SilentAudioWarning, stacklevel=stacklevel)
    return (problem,)


# --------------------------------------------------------------------------- helpers


def _to_mono_target(data: np.ndarray, sr: int, target_sr: int) -> tuple[np.ndarray, list[str]]:
    notes = []
    if data.shape[1] > 1:
        mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)
        notes.append(f"downmixed {data.shape[1]} channels")
    else:
        mono = data[:, 0]
    if sr != target_sr:
        mono = resample(mono, sr, target_sr)
        notes.append(f"resampled {sr} -> {target_sr} Hz")
        if target_sr > sr:
            notes.append(f"upsampled: no content above {sr // 2} Hz")
        over = int(np.count_nonzero(np.abs(mono) > 1.0))
        if over:
            np.clip(mono, -1.0, 1.0, out=mono)
            notes.append(f"limited {over} resampling overshoot samples to [-1, 1]")
    return mono, notes


def _make_audio(
    mono: np.ndarray,
    sr: int,
    source: str,
    orig_sr: int,
    channels: int,
    notes: tuple[str, ...],
    offset: float = 0.0,
) -> Audio:
    samples = np.array(mono, dtype=np.float32, copy=True)
    samples.flags.writeable = False
    return Audio(
        samples=samples,
        sampling_rate=sr,
        source=source,
        original_sampling_rate=orig_sr,
        original_channels=channels,
        duration=len(samples) / sr,
        notes=tuple(notes),
        offset=offset,
    )


def _check_rate(rate: object, name: str, source: str | None = None) -> int:
    ok = isinstance(rate, (int, np.integer)) and not isinstance(rate, bool) and rate > 0
    if not ok and isinstance(rate, float) and rate.is_integer() and rate > 0:
        ok = True
    if not ok:
        message = f"{name} must be a positive integer (Hz), got {rate!r}"
        if source is None:
            raise ValueError(message)
        raise AudioError(source, message)
    return int(rate)  # type: ignore[call-overload]


# --------------------------------------------------------------------------- speech presence

MIN_SPEECH_SECONDS = 0.1


@dataclass(frozen=True)
class SpeechCheck:
    """What the voice-activity detector found in a clip."""

    speech_seconds: float
    duration: float
    min_speech_seconds: float = MIN_SPEECH_SECONDS

    @property
    def has_speech(self) -> bool:
        return self.speech_seconds >= self.min_speech_seconds

    @property
    def note(self) -> str:
        if self.has_speech:
            return f"speech detected: {self.speech_seconds:.2f} s of {self.duration:.2f} s"
        return (
            f"no speech detected (voice-activity detector: {self.speech_seconds:.2f} s of "
            f"{self.duration:.2f} s, below {self.min_speech_seconds:g} s): no emotion is claimed"
        )


def detect_speech(
    audio: Audio | str | Path | np.ndarray,
    sampling_rate: int | None = None,
    *,
    threshold: float = 0.5,
    min_speech_seconds: float = MIN_SPEECH_SECONDS,
) -> SpeechCheck:
    """Seconds of speech in ``audio`` by the Silero VAD shipped inside faster-whisper.

    ``audio`` is an :class:`Audio` (from :func:`load_audio`) or anything ``load_audio`` reads.
    Speech is what the model scores at or above ``threshold`` (faster-whisper's default 0.5),
    without padding; ``has_speech`` needs at least ``min_speech_seconds`` of it.
    """
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as err:  # a dependency of emorl; tolerate a partial install
        raise ImportError(
            "speech detection needs faster-whisper (its Silero VAD): pip install faster-whisper"
        ) from err
    clip = audio if isinstance(audio, Audio) else load_audio(audio, sampling_rate)
    samples = clip.samples
    if clip.sampling_rate != TARGET_SR:
        samples = resample(samples, clip.sampling_rate, TARGET_SR)
    options = VadOptions(threshold=threshold, speech_pad_ms=0, min_speech_duration_ms=0)
    spans = get_speech_timestamps(np.asarray(samples, dtype=np.float32), options)
    speech = sum(span["end"] - span["start"] for span in spans) / TARGET_SR
    return SpeechCheck(float(speech), clip.duration, min_speech_seconds)
