"""Speech features for emotion recognition: openSMILE IS09 frames and functionals.

IEmoNet (Heusser et al. 2019) reads the INTERSPEECH 2009 Emotion Challenge (IS09) low-level
descriptors: 16 LLDs per 10 ms frame (RMS energy, MFCC 1-12, zero-crossing rate, voicing
probability, F0, each smoothed) and their 16 deltas, so 32 values a frame, padded or
truncated to 384 frames. The classical baseline uses the 384 IS09 functionals.

Frames and deltas. openSMILE returns the LLDs and their deltas as two tables, and the delta
table has two more rows at the end (the delta regression's look-ahead of two frames flushed
at the end of input; the last of them is all zeros). Row ``i`` of the delta table is the delta
of LLD row ``i``: it equals the W=2 regression ``sum_k k (x[i+k] - x[i-k]) / 10`` over the
LLD rows with the edges repeated, to float32 rounding (checked in the tests against
openSMILE's own delta table, on synthetic and real speech). So for IS09 the deltas are
computed from the LLD table with that regression (:func:`delta_regression`) instead of
running openSMILE a second time: half the extraction time, the same values. openSMILE emits
a last, partial frame that repeats the previous frame's start time; it is kept, as
openSMILE's own LLD output (and its functionals) keep it, so a clip of ``d`` seconds gives
``floor((d - 0.025) / 0.01) + 2`` frames (99 for one second).

Normalisation (:class:`FeatureNormalizer`) is z-scoring fitted on training data only and saved
next to the model weights. Normalise the unpadded sequences, then pad, so padding stays zero.

Everything here takes samples that are already loaded: float mono arrays, normally at 16 kHz
from :func:`emorl.audio.load_audio`. ``frames_file``/``functionals_file`` load a file through
that function and can cache the result on disk, keyed by the file's SHA-256.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emorl.artifacts import atomic_write
from emorl.fingerprint import sha256_file

FRAME_FEATURES = 32
DEFAULT_MAX_FRAMES = 384
DEFAULT_TRIM_MARGIN = 10
# LLD columns that measure a frame's energy, in order of preference, for silence trimming
_ENERGY_COLUMNS = ("pcm_RMSenergy_sma", "Loudness_sma3", "pcm_loudness_sma")
STD_FLOOR = 1e-6
# Bump when what frames()/functionals() return changes, so old caches are not reused.
# 2: IS09 deltas computed from the LLDs (equal to openSMILE's to float32 rounding).
FORMAT_VERSION = 2
NORMALIZER_MODES = ("global", "speaker", "utterance")

_LLD = "LowLevelDescriptors"
_DELTAS = "LowLevelDescriptors_Deltas"
_FUNCTIONALS = "Functionals"
# IS09 frames are 25 ms windows: anything shorter gives openSMILE nothing but NaN.
_MIN_SECONDS = 0.025
# Sets whose delta table is checked to equal the W=2 regression of the LLD rows (see the
# module docstring). ComParE_2016, for one, is not aligned: its extra delta rows sit before
# its last frames.
_DELTA_ALIGNED_SETS = frozenset({"IS09"})
# Frame features of this many recent clips are kept in memory, keyed by content.
_RECENT_CLIPS = 8
_SET_NAME = re.compile(r"[A-Za-z0-9_]+")

NormalizerMode = Literal["global", "speaker", "utterance"]


def delta_regression(x: np.ndarray, window: int = 2) -> np.ndarray:
    """openSMILE's delta: ``sum_k k (x[i+k] - x[i-k]) / (2 sum_k k^2)``, edges repeated."""
    x = np.asarray(x, dtype=np.float64)
    padded = np.concatenate([np.repeat(x[:1], window, 0), x, np.repeat(x[-1:], window, 0)])
    n = len(x)
    total = sum(
        k * (padded[window + k : window + k + n] - padded[window - k : window - k + n])
        for k in range(1, window + 1)
    )
    return (total / (2 * sum(k * k for k in range(1, window + 1)))).astype(np.float32)


class FeatureExtractionError(ValueError):
    """openSMILE gave no usable features for a signal."""


def _opensmile_version() -> str:
    try:
        return importlib.metadata.version("opensmile")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _import_opensmile() -> Any:
    try:
        import opensmile
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("speech features need openSMILE: pip install 'emorl[speech]'") from exc
    return opensmile


@dataclass(frozen=True)
class FeatureConfig:
    """Which openSMILE feature set to extract, and how many frames a model reads.

    ``feature_set`` is an ``opensmile.FeatureSet`` name: ``"IS09"`` (the paper's frames and
    functionals), or ``"eGeMAPSv02"``/``"ComParE_2016"`` for functionals baselines.
    With ``trim_db`` set, frame sequences lose their leading and trailing silence: frames
    whose energy is more than ``trim_db`` below the clip's loudest frame, keeping
    ``trim_margin`` frames of context on each side (see :func:`trim_silence`).
    """

    feature_set: str = "IS09"
    max_frames: int = DEFAULT_MAX_FRAMES
    trim_db: float | None = None
    trim_margin: int = DEFAULT_TRIM_MARGIN

    def __post_init__(self) -> None:
        if self.trim_db is not None and not (
            isinstance(self.trim_db, (int, float)) and 0 < self.trim_db < 120
        ):
            raise ValueError(f"trim_db must be None or between 0 and 120 dB, got {self.trim_db!r}")
        if (
            isinstance(self.trim_margin, bool)
            or not isinstance(self.trim_margin, int)
            or (self.trim_margin < 0)
        ):
            raise ValueError(f"trim_margin must be a non-negative int, got {self.trim_margin!r}")
        if not isinstance(self.feature_set, str) or not _SET_NAME.fullmatch(self.feature_set):
            raise ValueError(f"feature_set must be an openSMILE set name, got {self.feature_set!r}")
        if (
            isinstance(self.max_frames, bool)
            or not isinstance(self.max_frames, (int, np.integer))
            or self.max_frames < 1
        ):
            raise ValueError(f"max_frames must be a positive integer, got {self.max_frames!r}")

    def key(self) -> str:
        """A short stable string naming this configuration, for cache folders.

        It names what openSMILE computed (the cache holds untrimmed, unpadded features;
        trimming is applied when they are read): the feature set, ``max_frames``, the installed
        openSMILE version and this module's output format version.
        """
        return (
            f"{self.feature_set}-t{int(self.max_frames)}-os{_opensmile_version()}-f{FORMAT_VERSION}"
        )


def _as_signal(samples: np.ndarray, sampling_rate: int) -> tuple[np.ndarray, int]:
    """Check a mono float signal; return a float32 C-contiguous view or copy and the rate."""
    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, np.integer)):
        raise TypeError(f"sampling_rate must be an integer, got {sampling_rate!r}")
    if sampling_rate <= 0:
        raise ValueError(f"sampling_rate must be positive, got {sampling_rate}")
    array = np.asarray(samples)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise ValueError(
            f"expected mono samples of shape (n,), got shape {array.shape}: "
            "load audio with emorl.audio.load_audio, which mixes it down"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"expected float samples in [-1, 1], got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError("samples contain NaN or infinite values")
    minimum = int(np.ceil(_MIN_SECONDS * sampling_rate))
    if array.size < minimum:
        raise FeatureExtractionError(
            f"signal too short for features: {array.size} samples, need at least {minimum} "
            f"({_MIN_SECONDS * 1000:.0f} ms at {int(sampling_rate)} Hz)"
        )
    return np.ascontiguousarray(array, dtype=np.float32), int(sampling_rate)


def _load_samples(path: Path) -> tuple[np.ndarray, int]:
    """Load a file as 16 kHz mono float32 through :func:`emorl.audio.load_audio`."""
    from emorl.audio import load_audio

    audio = load_audio(path)
    return audio.samples, audio.sampling_rate


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


class SpeechFeatureExtractor:
    """openSMILE features of one configuration, optionally cached on disk for files.

    ``frames`` gives the unpadded ``(T, F)`` frame features (LLDs then their deltas; F = 32
    for IS09; for a set without deltas, such as eGeMAPSv02, the LLDs alone; see
    :meth:`frames`) and
    ``functionals`` the utterance-level vector (384 for IS09). Results are float32.

    With ``cache_dir``, ``frames_file``/``functionals_file`` store each result at
    ``cache_dir/<config.key()>/<kind>/<sha256 of the file>.npy``. One extractor is not
    meant to be shared between threads; it pickles (without its openSMILE handles), so it
    can go to worker processes.
    """

    def __init__(
        self, config: FeatureConfig = FeatureConfig(), cache_dir: str | Path | None = None
    ) -> None:
        if not isinstance(config, FeatureConfig):
            raise TypeError(f"config must be a FeatureConfig, got {type(config).__name__}")
        opensmile = _import_opensmile()
        if config.feature_set not in opensmile.FeatureSet.__members__:
            known = ", ".join(opensmile.FeatureSet.__members__)
            raise ValueError(
                f"unknown openSMILE feature set {config.feature_set!r}; known: {known}"
            )
        self.config = config
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._smiles: dict[str, Any] = {}
        self._recent: dict[tuple[bytes, int], np.ndarray] = {}
        self._has_deltas = self._smile(_DELTAS) is not None

    # -------------------------------------------------------------- openSMILE handles

    def _smile(self, level: str) -> Any | None:
        """The openSMILE extractor for ``level``, built once; None if the set lacks it."""
        if level not in self._smiles:
            opensmile = _import_opensmile()
            try:
                smile = opensmile.Smile(
                    feature_set=opensmile.FeatureSet[self.config.feature_set],
                    feature_level=opensmile.FeatureLevel[level],
                )
            except ValueError:
                if level != _DELTAS:
                    raise
                smile = None
            self._smiles[level] = smile
        return self._smiles[level]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_smiles"] = {}
        state["_recent"] = {}
        return state

    @property
    def frame_names(self) -> list[str]:
        """Column names of :meth:`frames`: the LLDs, then their deltas (``..._de``)."""
        names = list(self._smile(_LLD).feature_names)
        if self._has_deltas:
            names += list(self._smile(_DELTAS).feature_names)
        return names

    @property
    def functional_names(self) -> list[str]:
        """Names of the :meth:`functionals` vector's entries."""
        return list(self._smile(_FUNCTIONALS).feature_names)

    # -------------------------------------------------------------- from samples

    def frames(self, samples: np.ndarray, sampling_rate: int = 16000) -> np.ndarray:
        """Frame features ``(T, F)`` float32, unpadded: T is the true frame count.

        For IS09, F = 32 (16 LLDs then their 16 deltas) and T is about one per 10 ms. For a
        set without deltas (eGeMAPSv02, GeMAPS) F is its LLD count; other sets with deltas
        (ComParE_2016, for one) are refused. With ``config.trim_db`` set, leading and
        trailing silence is trimmed. The input is not modified. Raises
        :class:`FeatureExtractionError` (a ValueError) for a signal shorter than one 25 ms
        frame.
        """
        if self._has_deltas and self.config.feature_set not in _DELTA_ALIGNED_SETS:
            raise ValueError(
                f"frame features of {self.config.feature_set!r}: how its delta rows line up with "
                f"its LLD rows is only verified for {sorted(_DELTA_ALIGNED_SETS)}; use "
                "functionals() for this set"
            )
        return self._trimmed(self._raw_frames(samples, sampling_rate))

    def _raw_frames(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        """Untrimmed frame features, as cached on disk; the last few clips in memory too
        (a live caller's utterance is read for speaker statistics, then recognised)."""
        signal, rate = _as_signal(samples, sampling_rate)
        key = (hashlib.blake2b(signal.tobytes(), digest_size=16).digest(), rate)
        if key in self._recent:
            return self._recent[key].copy()
        values = self._extract_frames(signal, rate)
        self._recent[key] = values.copy()
        while len(self._recent) > _RECENT_CLIPS:
            del self._recent[next(iter(self._recent))]
        return values

    def _extract_frames(self, signal: np.ndarray, rate: int) -> np.ndarray:
        lld = self._smile(_LLD).process_signal(signal, rate)
        values = lld.to_numpy(dtype=np.float32)
        if self._has_deltas:
            values = np.concatenate([values, delta_regression(values)], axis=1)
        return self._checked(values)

    def functionals(self, samples: np.ndarray, sampling_rate: int = 16000) -> np.ndarray:
        """The utterance's functionals vector, float32: (384,) for IS09, (88,) for eGeMAPSv02."""
        signal, rate = _as_signal(samples, sampling_rate)
        table = self._smile(_FUNCTIONALS).process_signal(signal, rate)
        return self._checked(table.to_numpy(dtype=np.float32)[0])

    @staticmethod
    def _checked(values: np.ndarray) -> np.ndarray:
        if values.size == 0 or not np.isfinite(values).all():
            raise FeatureExtractionError(
                "openSMILE returned no or non-finite features (is the signal too short?)"
            )
        return np.array(values, dtype=np.float32, order="C")  # own, writable memory

    # -------------------------------------------------------------- from files

    def frames_file(self, path: str | Path) -> np.ndarray:
        """:meth:`frames` of an audio file loaded by ``emorl.audio.load_audio`` (cached)."""
        return self._trimmed(self._from_file(Path(path), "frames", self._raw_frames, ndim=2))

    def energy_column(self) -> int:
        """Index of the frame column measuring energy (RMS energy for IS09)."""
        names = self.frame_names
        for wanted in _ENERGY_COLUMNS:
            if wanted in names:
                return names.index(wanted)
        raise ValueError(
            f"feature set {self.config.feature_set!r} has no energy descriptor "
            f"({', '.join(_ENERGY_COLUMNS)}) to trim silence with; set trim_db=None"
        )

    def _trimmed(self, frames: np.ndarray) -> np.ndarray:
        if self.config.trim_db is None:
            return frames
        return trim_silence(
            frames, self.energy_column(), self.config.trim_db, self.config.trim_margin
        )

    def functionals_file(self, path: str | Path) -> np.ndarray:
        """:meth:`functionals` of an audio file loaded by ``emorl.audio.load_audio`` (cached)."""
        return self._from_file(Path(path), "functionals", self.functionals, ndim=1)

    def cache_path(self, path: str | Path, kind: Literal["frames", "functionals"]) -> Path:
        """Where the cached ``kind`` features of the file at ``path`` are (or would be) kept."""
        if self.cache_dir is None:
            raise ValueError("this extractor has no cache_dir")
        if kind not in ("frames", "functionals"):
            raise ValueError(f"kind must be 'frames' or 'functionals', got {kind!r}")
        return self.cache_dir / self.config.key() / kind / f"{sha256_file(path)}.npy"

    def _from_file(
        self,
        path: Path,
        kind: Literal["frames", "functionals"],
        compute: Callable[[np.ndarray, int], np.ndarray],
        ndim: int,
    ) -> np.ndarray:
        if self.cache_dir is None:
            return compute(*_load_samples(path))
        target = self.cache_path(path, kind)
        try:
            cached = np.load(target, allow_pickle=False)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError) as exc:
            warnings.warn(
                f"unreadable feature cache file {target} ({exc}); recomputing", stacklevel=3
            )
        else:
            if cached.ndim == ndim and cached.dtype == np.float32 and cached.size:
                return cached
            warnings.warn(
                f"feature cache file {target} holds {cached.dtype} {cached.shape}; recomputing",
                stacklevel=3,
            )
        result = compute(*_load_samples(path))
        atomic_write(target, lambda tmp: _save_npy(tmp, result))
        return result


def trim_silence(
    frames: np.ndarray, energy_column: int, threshold_db: float, margin: int
) -> np.ndarray:
    """Drop leading and trailing frames quieter than ``threshold_db`` below the loudest.

    Energy is the amplitude-like column ``energy_column`` (IS09's RMS energy), so the
    threshold is ``max * 10 ** (-threshold_db / 20)``. ``margin`` frames are kept on each
    side of the first and last loud frame. Inner pauses are kept. An all-zero energy track
    (nothing to measure against) returns the frames unchanged. Trimming twice gives the
    same frames as trimming once.
    """
    array = np.asarray(frames)
    if array.ndim != 2 or not 0 <= energy_column < array.shape[1]:
        raise ValueError(f"frames of shape {array.shape} have no energy column {energy_column}")
    energy = array[:, energy_column]
    peak = float(energy.max(initial=0.0))
    if peak <= 0.0:
        return array
    loud = np.flatnonzero(energy >= peak * 10.0 ** (-threshold_db / 20.0))
    start = max(int(loud[0]) - margin, 0)
    stop = min(int(loud[-1]) + margin + 1, array.shape[0])
    return array[start:stop]


def pad_or_truncate(frames: np.ndarray, max_frames: int) -> tuple[np.ndarray, int]:
    """Fit ``(T, F)`` frames to ``(max_frames, F)``: zero-pad at the end or keep the first.

    Returns a new array (never a view of the input) and the number of real frames,
    ``min(T, max_frames)``, for masking.
    """
    array = np.asarray(frames)
    if array.ndim != 2:
        raise ValueError(f"frames must be 2-D (T, F), got shape {array.shape}")
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)):
        raise TypeError(f"max_frames must be an integer, got {max_frames!r}")
    if max_frames < 1:
        raise ValueError(f"max_frames must be positive, got {max_frames}")
    length = min(array.shape[0], int(max_frames))
    out = np.zeros((int(max_frames), array.shape[1]), dtype=array.dtype)
    out[:length] = array[:length]
    return out, length


# ------------------------------------------------------------------ normalisation


class _Moments:
    """Running per-column mean and variance (Chan et al.'s pairwise update, float64)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def add(self, frames: np.ndarray) -> None:
        n = frames.shape[0]
        if n == 0:
            return
        values = frames.astype(np.float64)
        mean = values.mean(axis=0)
        self._merge(n, mean, ((values - mean) ** 2).sum(axis=0))

    def add_prior(self, count: float, mean: np.ndarray, std: np.ndarray) -> None:
        """Pool in ``count`` pseudo-frames with this ``mean`` and ``std`` (shrinkage)."""
        if count <= 0:
            return
        assert self.mean is not None and self.m2 is not None
        std64 = np.asarray(std, dtype=np.float64)
        self._merge(count, np.asarray(mean, dtype=np.float64), std64**2 * count)

    def _merge(self, n: float, mean: np.ndarray, m2: np.ndarray) -> None:
        """Chan et al.'s update with a group of ``n`` values of this mean and sum of squares."""
        if self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean is not None and self.m2 is not None
        return self.mean.astype(np.float32), np.sqrt(self.m2 / self.count).astype(np.float32)


def _as_frames(sequence: np.ndarray) -> np.ndarray:
    """A (T, F) view of a frame sequence, or (1, F) of a 1-D functionals vector."""
    array = np.asarray(sequence)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"expected numeric features, got dtype {array.dtype}")
    if array.ndim == 1:
        return array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"expected a (T, F) sequence or an (F,) vector, got shape {array.shape}")
    return array


def _moments_of(sequences: Iterable[np.ndarray], what: str) -> _Moments:
    moments = _Moments()
    for sequence in sequences:
        if not np.isfinite(sequence).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        moments.add(sequence)
    return moments


def _check_speakers(
    sequences: list[np.ndarray], speakers: Sequence[str] | None, mode: str
) -> list[str]:
    if speakers is None:
        raise ValueError(f"mode={mode!r} needs the speaker of every sequence")
    if isinstance(speakers, str):
        raise TypeError("speakers must be a sequence of speaker ids, not one string")
    names = [str(s) for s in speakers]
    if len(names) != len(sequences):
        raise ValueError(f"{len(sequences)} sequences but {len(names)} speakers")
    return names


def _speaker_stats(
    sequences: list[np.ndarray],
    speakers: list[str],
    prior: tuple[float, np.ndarray, np.ndarray] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-speaker mean and std; ``prior`` ``(count, mean, std)`` pools that many
    pseudo-frames of the given statistics into each speaker's (shrinkage towards them)."""
    grouped: dict[str, list[np.ndarray]] = {}
    for sequence, speaker in zip(sequences, speakers, strict=True):
        grouped.setdefault(speaker, []).append(sequence)
    stats = {}
    for speaker, group in grouped.items():
        moments = _moments_of(group, f"sequences of speaker {speaker!r}")
        if moments.count == 0:
            raise ValueError(f"speaker {speaker!r} has no frames")
        if prior is not None:
            moments.add_prior(*prior)
        stats[speaker] = moments.result()
    return stats


def _feature_count(sequences: list[np.ndarray]) -> int:
    widths = {s.shape[1] for s in sequences}
    if len(widths) != 1:
        raise ValueError(f"sequences have different feature counts: {sorted(widths)}")
    return widths.pop()


@dataclass(eq=False)
class FeatureNormalizer:
    """Per-feature z-normalisation fitted on training data only, saved with a model.

    ``mode``:

    * ``"global"``: one mean/std over every frame of every training sequence.
    * ``"speaker"``: each speaker's own mean/std, from that speaker's sequences; the global
      stats serve speakers without their own (with a warning, once per speaker). For new
      speakers (the speaker-normalisation protocol), :meth:`adapt` computes stats from their
      own unlabelled clips.
    * ``"utterance"``: nothing fitted; each sequence is normalised over its own frames.

    Sequences are unpadded ``(T, F)`` arrays, or 1-D functional vectors (one frame each).
    Standard deviations are floored at ``STD_FLOOR`` when applied. Two normalizers compare
    equal when their mode and every array are equal.
    """

    mode: NormalizerMode
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    speaker_stats: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _warned: set[str | None] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in NORMALIZER_MODES:
            raise ValueError(f"mode must be one of {NORMALIZER_MODES}, got {self.mode!r}")
        if self.mode == "utterance":
            if self.mean is not None or self.std is not None or self.speaker_stats:
                raise ValueError("mode='utterance' fits no statistics")
            return
        if self.mean is None or self.std is None:
            raise ValueError(f"mode={self.mode!r} needs mean and std")
        self.mean = np.asarray(self.mean, dtype=np.float32)
        self.std = np.asarray(self.std, dtype=np.float32)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise ValueError(
                f"mean and std must be 1-D of one length, got {self.mean.shape}, {self.std.shape}"
            )
        if self.mode == "global" and self.speaker_stats:
            raise ValueError("mode='global' has no per-speaker statistics")
        checked = {}
        for speaker, (mean, std) in self.speaker_stats.items():
            mean = np.asarray(mean, dtype=np.float32)
            std = np.asarray(std, dtype=np.float32)
            if mean.shape != self.mean.shape or std.shape != self.mean.shape:
                raise ValueError(
                    f"speaker {speaker!r} stats have shapes {mean.shape}, {std.shape}; "
                    f"expected {self.mean.shape}"
                )
            checked[str(speaker)] = (mean, std)
        self.speaker_stats = checked

    @property
    def num_features(self) -> int | None:
        """The feature count the stats were fitted on (None in utterance mode)."""
        return None if self.mean is None else int(self.mean.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureNormalizer):
            return NotImplemented
        if self.mode != other.mode or self.speaker_stats.keys() != other.speaker_stats.keys():
            return False
        pairs = [(self.mean, other.mean), (self.std, other.std)]
        for speaker, (mean, std) in self.speaker_stats.items():
            pairs += list(zip((mean, std), other.speaker_stats[speaker], strict=True))
        return all(
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in pairs
        )

    __hash__ = None  # type: ignore[assignment]

    # -------------------------------------------------------------- fitting

    @classmethod
    def fit(
        cls,
        sequences: Sequence[np.ndarray],
        mode: NormalizerMode,
        speakers: Sequence[str] | None = None,
    ) -> FeatureNormalizer:
        """Fit on the training sequences (unpadded); ``speakers`` is needed for speaker mode."""
        if mode not in NORMALIZER_MODES:
            raise ValueError(f"mode must be one of {NORMALIZER_MODES}, got {mode!r}")
        if mode == "utterance":
            return cls(mode="utterance")
        frames = [_as_frames(s) for s in sequences]
        if not frames:
            raise ValueError("no training sequences to fit on")
        _feature_count(frames)
        moments = _moments_of(frames, "training sequences")
        if moments.count == 0:
            raise ValueError("the training sequences have no frames")
        mean, std = moments.result()
        if mode == "global":
            return cls(mode="global", mean=mean, std=std)
        names = _check_speakers(frames, speakers, mode)
        return cls(mode="speaker", mean=mean, std=std, speaker_stats=_speaker_stats(frames, names))

    def adapt(
        self,
        sequences: Sequence[np.ndarray],
        speakers: Sequence[str],
        *,
        overwrite: bool = False,
        prior_count: float = 0.0,
    ) -> FeatureNormalizer:
        """A copy with per-speaker stats of new speakers, from their unlabelled sequences.

        This is the speaker-normalisation protocol for unseen (test) speakers: their own clips
        give their statistics; no labels are used. ``self`` is not changed. A speaker that
        already has statistics is an error (a speaker in both training and test data) unless
        ``overwrite`` is true. ``prior_count`` > 0 shrinks each new speaker's statistics
        towards the global ones, as if that many frames (for 1-D vectors: clips) of the
        global statistics were pooled in: one clip of a speaker then normalises to a scaled
        global normalisation instead of to zeros.
        """
        if self.mode != "speaker":
            raise ValueError(f"adapt() applies to mode='speaker', not {self.mode!r}")
        frames = [_as_frames(s) for s in sequences]
        names = _check_speakers(frames, speakers, self.mode)
        if frames and _feature_count(frames) != self.num_features:
            raise ValueError(
                f"sequences have {frames[0].shape[1]} features, the normalizer {self.num_features}"
            )
        known = sorted(set(names) & self.speaker_stats.keys())
        if known and not overwrite:
            raise ValueError(
                f"speakers already have statistics: {known[:5]}; pass overwrite=True to replace"
            )
        stats = {s: (m.copy(), d.copy()) for s, (m, d) in self.speaker_stats.items()}
        assert self.mean is not None and self.std is not None
        if prior_count < 0:
            raise ValueError(f"prior_count must be >= 0, got {prior_count}")
        prior = (float(prior_count), self.mean, self.std) if prior_count > 0 else None
        stats.update(_speaker_stats(frames, names, prior))
        return FeatureNormalizer(
            mode="speaker", mean=self.mean.copy(), std=self.std.copy(), speaker_stats=stats
        )

    def covering(
        self,
        sequences: Sequence[np.ndarray],
        speakers: Sequence[str] | None,
        *,
        prior_count: float = 0.0,
    ) -> FeatureNormalizer:
        """This normaliser, adapted (a copy) to the speakers of ``speakers`` it has no stats for.

        Outside speaker mode, or without speakers, or when every speaker is known, it is
        ``self``. Each unseen speaker's statistics come from their own ``sequences``.
        """
        if self.mode != "speaker" or speakers is None:
            return self
        names = [str(s) for s in speakers]
        new = [i for i, name in enumerate(names) if name not in self.speaker_stats]
        if not new:
            return self
        return self.adapt(
            [sequences[i] for i in new], [names[i] for i in new], prior_count=prior_count
        )

    # -------------------------------------------------------------- applying

    def _stats_for(self, speaker: str | None) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean is not None and self.std is not None
        if self.mode == "global":
            return self.mean, self.std
        name = None if speaker is None else str(speaker)
        if name is not None and name in self.speaker_stats:
            return self.speaker_stats[name]
        if name not in self._warned:
            self._warned.add(name)
            what = "no speaker given" if name is None else f"unknown speaker {name!r}"
            warnings.warn(
                f"{what} in speaker normalisation: using the global statistics "
                "(call adapt() with the speaker's clips to normalise per speaker)",
                stacklevel=3,
            )
        return self.mean, self.std

    def transform(self, sequence: np.ndarray, speaker: str | None = None) -> np.ndarray:
        """Normalise one unpadded sequence (or 1-D vector); returns a new array.

        The result has the input's float dtype (float32 for integer input).
        """
        array = np.asarray(sequence)
        frames = _as_frames(array)
        dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float32)
        values = frames.astype(np.float64)  # a copy: the input is never touched
        if self.mode == "utterance":
            if array.ndim == 1:
                raise ValueError(
                    "utterance normalisation needs a (T, F) frame sequence: a single vector "
                    "would normalise to zeros"
                )
            if values.shape[0] == 0:
                return values.astype(dtype)
            mean, std = values.mean(axis=0), values.std(axis=0)
        else:
            mean, std = self._stats_for(speaker)
            if values.shape[1] != mean.shape[0]:
                raise ValueError(
                    f"sequence has {values.shape[1]} features, the normalizer {mean.shape[0]}"
                )
        values -= mean
        values /= np.maximum(std.astype(np.float64), STD_FLOOR)
        return values.astype(dtype).reshape(array.shape)

    def transform_many(
        self, sequences: Sequence[np.ndarray], speakers: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """:meth:`transform` each sequence (with its speaker, in speaker mode)."""
        if speakers is None:
            return [self.transform(s) for s in sequences]
        names = _check_speakers(list(sequences), speakers, self.mode)
        return [self.transform(s, n) for s, n in zip(sequences, names, strict=True)]

    # -------------------------------------------------------------- storage

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The statistics as named float32 arrays, for safetensors next to the model weights.

        Keys: ``norm.mean``, ``norm.std``, ``norm.speaker.<id>.mean``, ``norm.speaker.<id>.std``.
        The mode is not stored here: keep it in the model's config.
        """
        arrays: dict[str, np.ndarray] = {}
        if self.mean is not None and self.std is not None:
            arrays["norm.mean"] = np.array(self.mean, dtype=np.float32, order="C")
            arrays["norm.std"] = np.array(self.std, dtype=np.float32, order="C")
        for speaker in sorted(self.speaker_stats):
            mean, std = self.speaker_stats[speaker]
            arrays[f"norm.speaker.{speaker}.mean"] = np.array(mean, dtype=np.float32, order="C")
            arrays[f"norm.speaker.{speaker}.std"] = np.array(std, dtype=np.float32, order="C")
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], mode: NormalizerMode) -> FeatureNormalizer:
        """Rebuild from :meth:`to_arrays` output; keys not starting with ``norm.`` are ignored.

        Arrays may be numpy arrays or CPU tensors.
        """
        mean = std = None
        parts: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if not key.startswith("norm."):
                continue
            array = np.array(value, dtype=np.float32)
            if key == "norm.mean":
                mean = array
            elif key == "norm.std":
                std = array
            elif key.startswith("norm.speaker.") and key.endswith((".mean", ".std")):
                speaker, _, stat = key[len("norm.speaker.") :].rpartition(".")
                parts.setdefault(speaker, {})[stat] = array
            else:
                raise ValueError(f"unknown normaliser array {key!r}")
        stats = {}
        for speaker, found in parts.items():
            if set(found) != {"mean", "std"}:
                raise ValueError(f"speaker {speaker!r} lacks its mean or std array")
            stats[speaker] = (found["mean"], found["std"])
        return cls(mode=mode, mean=mean, std=std, speaker_stats=stats)

    def copy(self) -> FeatureNormalizer:
        """A deep copy (its own arrays, its own once-per-speaker warning memory)."""
        return copy.deepcopy(self)
