"""Speech emotion recognition on Whisper encoder states (CTranslate2).

:class:`WhisperEncoderFeatures` runs only the encoder of a CTranslate2 Whisper model
(``ctranslate2.models.Whisper.encode``) on the log-mel features of a clip, computed as
faster-whisper computes them. How is a :class:`FeatureSpec`:

* ``mode="padded"`` (default): the mel is zero-padded to Whisper's 30 s window, as the ASR
  pads it, and the states of the clip's own frames are kept (the first ``ceil(frames / 2)``
  rows). These are the very states of the ASR's encoder pass, so inside
  :class:`emorl.recognizers.iemonet.IEmoNet` one pass serves ASR and SER
  (:meth:`emorl.asr.WhisperTranscriber.transcribe_with_states`).
* ``mode="unpadded"``: only the clip's own frames are encoded (cut to an even count); its
  cost scales with the clip (a 3 s clip about 14 ms with tiny.en against 280 ms padded),
  the better choice for the SER alone. Padded and unpadded states are different numbers
  (the encoder's attention sees the padding), so a model reads only the kind it was
  trained on.
* ``loudness_db`` (default -23): the clip is first scaled to that gated level
  (:func:`emorl.recognizers.speech.augment.normalize_loudness`), at training and inference.

Clips longer than 30 s are encoded in 30 s windows whose states are concatenated.
``states`` returns ``(T, d_model)``; ``pooled`` their mean and standard deviation. Training
copies can be augmented and test clips degraded (:class:`ClipVariant`). Audio enters
through :func:`emorl.audio.load_audio` (:data:`WHISPER_SER_POLICY`: any length, shorter
than 0.3 s or silent is an :class:`emorl.audio.AudioError`). States of files are cached at
``$EMORL_CACHE/features/whisper-<model fingerprint[:16]>/<spec key>/<sha256 of the file>
[.<variant>].npy`` (float32; the root IS09 features use, :func:`emorl.paths.cache_root`).

:class:`WhisperSER` z-normalises per speaker (the speaker's own clips, labels unused;
unseen speakers on their own clips or a few of them, :class:`FeatureNormalizer` in
``"speaker"`` mode) and classifies with a head (:mod:`emorl.recognizers.speech.heads`):
``logreg`` (mean+std pool, class-balanced logistic regression, ``C`` by inner CV on the
training speakers) or ``attention`` (additive attention over the frames -> dense ->
softmax, torch). It saves as ``model.safetensors`` (head weights and normaliser
statistics) and ``config.json`` (labels, Whisper fingerprint, feature spec, head, training,
metrics); no pickle, no frame data.

``python -m emorl.recognizers.speech.whisper --data ravdess/ --model tiny.en --out runs/x``
runs :func:`crossval_whisper_ser` (speaker-exclusive 5-fold CV, RAVDESS actors 1-20;
``--head``, ``--augment``, ``--degrade``, ``--adapt-clips``) and writes ``crossval.json`` and
``confusion_crossval.png``; with ``--train`` it trains on all actors and saves a model
folder with its card (:func:`train_whisper_ser`, also ``emorl train ser --backend whisper``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from emorl.artifacts import atomic_write
from emorl.audio import TARGET_SR, Audio, AudioError, AudioPolicy, load_audio
from emorl.fingerprint import sha256_bytes, sha256_file
from emorl.paths import cache_root
from emorl.recognizers.speech.features import FeatureNormalizer
from emorl.recognizers.speech.heads import C_GRID, AttentionConfig, pool_states, softmax

if TYPE_CHECKING:
    from emorl.recognizers.speech.augment import Augmentation

__all__ = [
    "C_GRID",
    "DEFAULT_WHISPER_SER_DIR",
    "FEATURE_MODES",
    "WHISPER_SER_POLICY",
    "ClipVariant",
    "FeatureSpec",
    "WhisperEncoderFeatures",
    "WhisperSER",
    "crossval_whisper_ser",
    "evaluate_whisper_ser",
    "main",
    "resolve_whisper_folder",
    "train_whisper_ser",
]

#: Audio checks: any length (30 s windows), too short or silent is an error.
WHISPER_SER_POLICY = AudioPolicy(min_seconds=0.3, max_seconds=None, silence="error")
#: Bump when what ``pooled`` returns changes, so old caches are not reused.
FORMAT_VERSION = 2
#: Mel frames of one Whisper window (30 s at 10 ms hops).
WINDOW_FRAMES = 3000
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_TYPE = "whisper-ser"
#: The shipped four-class Whisper tiny.en SER.
DEFAULT_WHISPER_SER_DIR = Path(__file__).resolve().parents[2] / "models" / "ser-whisper-tiny-4class"
RAVDESS_SPEAKERS: tuple[str, ...] = tuple(f"ravdess_{i:02d}" for i in range(1, 21))

AudioLike = str | Path | np.ndarray | Audio


def resolve_whisper_folder(model: str | Path) -> Path:
    """A model name (``tiny.en``, ``base``, ``whisper-`` forms) or a CTranslate2 folder.

    An existing folder wins over a name. Unknown names raise ``ValueError``; a missing model
    raises :class:`emorl.artifacts.ModelFolderError` saying what to install.
    """
    from emorl.asr.models import MODEL_NAMES, whisper_model_folder
    from emorl.asr.whisper import resolve_model_dir

    path = Path(model).expanduser()
    if path.is_dir():
        return resolve_model_dir(path)
    if str(model) not in MODEL_NAMES:
        raise ValueError(
            f"unknown Whisper model {str(model)!r}: not a folder, and not one of "
            f"{', '.join(MODEL_NAMES)}"
        )
    return resolve_model_dir(whisper_model_folder(str(model)))


FeatureMode = Literal["padded", "unpadded"]
FEATURE_MODES: tuple[str, ...] = ("padded", "unpadded")


@dataclass(frozen=True)
class FeatureSpec:
    """How the SER's encoder states are made; a model folder records it and refuses others.

    ``mode``: ``"padded"``: the clip's mel zero-padded to Whisper's 30 s window, encoded,
    and the states of the clip's own frames kept (``ceil(frames / 2)`` rows): exactly the
    states of the encoder pass the ASR decodes from, so inside IEmoNet one pass serves both
    (:meth:`emorl.asr.WhisperTranscriber.transcribe_with_states`). ``"unpadded"``: only the
    clip's own frames (cut to an even count) go through the encoder; cheaper for the SER
    alone (cost scales with the clip) but different numbers. ``loudness_db``: the clip is
    first scaled to this gated level (:func:`emorl.recognizers.speech.augment.normalize_loudness`),
    or left as it is with ``None``.
    """

    mode: FeatureMode = "padded"
    loudness_db: float | None = -23.0

    def __post_init__(self) -> None:
        if self.mode not in FEATURE_MODES:
            raise ValueError(f"feature mode must be one of {FEATURE_MODES}, got {self.mode!r}")
        if self.loudness_db is not None and not -60.0 <= float(self.loudness_db) <= 0.0:
            raise ValueError(f"loudness_db must be in [-60, 0] dB, got {self.loudness_db}")

    @property
    def key(self) -> str:
        """Folder name of these features in the cache, e.g. ``padded-ln-23``."""
        loud = "raw" if self.loudness_db is None else f"ln{float(self.loudness_db):g}"
        return f"{self.mode}-{loud}"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "loudness_db": self.loudness_db}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        unknown = set(data) - {"mode", "loudness_db"}
        if unknown:
            raise ValueError(f"unknown feature setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class ClipVariant:
    """A clip as heard: clean, an augmented training copy, or a degraded test condition.

    Augmented copies and degradations are random but reproducible: the generator is seeded
    with ``seed``, ``copy`` and the clip's content hash.
    """

    kind: Literal["clean", "augment", "degrade"] = "clean"
    name: str = ""
    copy: int = 0
    policy: Augmentation | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        from emorl.recognizers.speech.augment import DEGRADATIONS

        if self.kind not in ("clean", "augment", "degrade"):
            raise ValueError(f"variant kind must be clean, augment or degrade, got {self.kind!r}")
        if self.kind == "degrade" and self.name not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {self.name!r}: one of {', '.join(DEGRADATIONS)}")
        if self.kind == "augment" and self.policy is None:
            raise ValueError("an augment variant needs its policy")

    @property
    def key(self) -> str:
        """Suffix of the cached states' file name ("" for clean)."""
        if self.kind == "clean":
            return ""
        if self.kind == "degrade":
            return f"deg-{self.name}-s{self.seed}"
        assert self.policy is not None
        return f"aug-{self.policy.key()}-s{self.seed}-c{self.copy}"

    def apply(self, samples: np.ndarray, clip_id: str) -> np.ndarray:
        """The variant of ``samples``; ``clip_id`` (a hex digest of the clip) seeds it."""
        from emorl.recognizers.speech.augment import augment, degrade

        if self.kind == "clean":
            return np.asarray(samples, dtype=np.float32)
        entropy = int(clip_id[:12], 16)
        if self.kind == "degrade":
            return degrade(samples, self.name, seed=self.seed * 1_000_003 + entropy)
        rng = np.random.default_rng([self.seed, self.copy, entropy])
        return augment(samples, rng, self.policy)[0]


CLEAN = ClipVariant()


@lru_cache(maxsize=8)
def _folder_fingerprint(folder: str, compute_type: str) -> str:
    from emorl.asr.whisper import _folder_digest

    settings = f"\0{compute_type}\0whisper-ser-v{FORMAT_VERSION}"
    return sha256_bytes(_folder_digest(folder).encode(), settings.encode())


def _feature_kwargs(folder: Path) -> dict[str, Any]:
    """The mel settings of a model folder's ``preprocessor_config.json``, as faster-whisper
    reads them (none: its defaults, 80 bins)."""
    import inspect

    from faster_whisper.feature_extractor import FeatureExtractor

    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    valid = inspect.signature(FeatureExtractor.__init__).parameters
    return {k: v for k, v in config.items() if k in valid}


class WhisperEncoderFeatures:
    """Whisper encoder states of a clip's frames (``spec`` says how), and their mean+std pool.

    ``model``: ``"tiny.en"`` (packaged), ``"base"`` (installed offline, see
    :mod:`emorl.asr.models`) or a CTranslate2 Whisper folder. ``spec`` (or ``mode`` and
    ``loudness_db``): see :class:`FeatureSpec`. ``cache_dir``: where the states of files are
    kept (``None``: ``features/`` under :func:`emorl.paths.cache_root`; ``False``: no cache).
    The model loads on first use.
    """

    def __init__(
        self,
        model: str | Path = "tiny.en",
        threads: int = 2,
        *,
        spec: FeatureSpec | None = None,
        mode: FeatureMode | None = None,
        loudness_db: float | None | str = "spec",
        compute_type: str = "int8",
        cache_dir: str | Path | bool | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        base = spec or FeatureSpec()
        self.spec = FeatureSpec(
            mode=mode or base.mode,
            loudness_db=base.loudness_db if loudness_db == "spec" else loudness_db,  # type: ignore[arg-type]
        )
        self.model = str(model)
        self.folder = resolve_whisper_folder(model)
        self.threads = threads
        self.compute_type = compute_type
        if cache_dir is False:
            self.cache_dir: Path | None = None
        elif cache_dir is None or cache_dir is True:
            self.cache_dir = cache_root("features")
        else:
            self.cache_dir = Path(cache_dir)
        self._encoder: Any = None
        self._extractor: Any = None
        self._d_model: int | None = None

    def __repr__(self) -> str:
        return (
            f"WhisperEncoderFeatures({self.model!r}, {self.spec.key}, folder={str(self.folder)!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_encoder": None, "_extractor": None}

    @property
    def mode(self) -> str:
        return self.spec.mode

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the model folder's files, the compute type and the feature format."""
        return _folder_fingerprint(str(self.folder), self.compute_type)

    @property
    def d_model(self) -> int:
        """Width of one encoder state (384 for tiny.en, 512 for base)."""
        if self._d_model is None:
            import ctranslate2

            probe = np.zeros((1, 80, 2), dtype=np.float32)
            encoded = self.load()._encoder.encode(ctranslate2.StorageView.from_array(probe))
            self._d_model = int(np.asarray(encoded).shape[-1])
        return self._d_model

    def load(self) -> WhisperEncoderFeatures:
        if self._encoder is None:
            # as in emorl.asr.whisper: idle CTranslate2 OpenMP threads must not spin
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import ctranslate2
            from faster_whisper.feature_extractor import FeatureExtractor

            from emorl.artifacts import ModelFolderError

            try:
                self._encoder = ctranslate2.models.Whisper(
                    str(self.folder),
                    device="cpu",
                    compute_type=self.compute_type,
                    intra_threads=self.threads,
                )
            except (RuntimeError, ValueError, OSError) as err:
                raise ModelFolderError(f"cannot load Whisper in {self.folder}: {err}") from err
            self._extractor = FeatureExtractor(**_feature_kwargs(self.folder))
        return self

    def use_encoder(self, encoder: Any, extractor: Any) -> WhisperEncoderFeatures:
        """Compute with an encoder already loaded (the ASR's), instead of loading another.

        ``encoder``: a ``ctranslate2.models.Whisper`` of this very folder (the caller checks);
        ``extractor``: its faster-whisper ``FeatureExtractor``.
        """
        self._encoder, self._extractor = encoder, extractor
        return self

    def read_audio(self, audio: AudioLike, sampling_rate: int | None = None) -> Audio:
        """The clip as 16 kHz mono through :func:`emorl.audio.load_audio`."""
        if isinstance(audio, Audio):
            if audio.sampling_rate != TARGET_SR:
                raise AudioError(
                    audio.source, f"expected {TARGET_SR} Hz, got {audio.sampling_rate}"
                )
            return audio
        return load_audio(audio, sampling_rate, policy=WHISPER_SER_POLICY)

    def prepare(self, samples: np.ndarray) -> np.ndarray:
        """What the encoder hears: ``samples`` at the spec's loudness (or as they are)."""
        if self.spec.loudness_db is None:
            return np.asarray(samples, dtype=np.float32)
        from emorl.recognizers.speech.augment import normalize_loudness

        return normalize_loudness(samples, float(self.spec.loudness_db))

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """Log-mel ``(80, frames)`` as faster-whisper computes it (even frames if unpadded)."""
        from emorl.asr.whisper import log_mel

        self.load()
        features = log_mel(self._extractor, samples)
        if self.spec.mode == "unpadded":
            features = features[:, : features.shape[1] - features.shape[1] % 2]
        return np.ascontiguousarray(features)

    def encode(self, samples: np.ndarray, source: str = "<array>") -> np.ndarray:
        """Encoder states ``(T, d_model)`` float32 of prepared 16 kHz samples (spec's mode)."""
        import ctranslate2

        from emorl.asr.whisper import encode_windows

        features = self.mel(samples)
        if features.shape[1] < 2:
            raise AudioError(source, "too short for the Whisper encoder")
        if self.spec.mode == "padded":
            return np.concatenate([w.states() for w in encode_windows(self._encoder, features)])
        parts = []
        for start in range(0, features.shape[1], WINDOW_FRAMES):
            window = np.ascontiguousarray(features[None, :, start : start + WINDOW_FRAMES])
            if window.shape[2] < 2:
                continue
            encoded = self._encoder.encode(ctranslate2.StorageView.from_array(window))
            parts.append(np.asarray(encoded, dtype=np.float32)[0])
        return np.concatenate(parts, axis=0)

    def states(
        self,
        audio: AudioLike,
        sampling_rate: int | None = None,
        *,
        variant: ClipVariant = CLEAN,
    ) -> np.ndarray:
        """Encoder states ``(T, d_model)`` float32 of a clip (as ``variant`` changes it).

        For a file with a cache folder, the states are read from / written to the cache.
        """
        if isinstance(audio, (str, Path)) and self.cache_dir is not None:
            return self._cached_states(Path(audio), variant)
        clip = self.read_audio(audio, sampling_rate)
        return self._compute(clip, variant, None)

    def _compute(self, clip: Audio, variant: ClipVariant, clip_id: str | None) -> np.ndarray:
        samples = clip.samples
        if variant.kind != "clean":
            clip_id = clip_id or sha256_bytes(np.ascontiguousarray(samples).tobytes())
            samples = variant.apply(samples, clip_id)
        return self.encode(self.prepare(samples), clip.source)

    def pooled(
        self,
        audio: AudioLike,
        sampling_rate: int | None = None,
        *,
        variant: ClipVariant = CLEAN,
    ) -> np.ndarray:
        """Mean and standard deviation of :meth:`states` over time: ``(2 * d_model,)``."""
        return pool_states(self.states(audio, sampling_rate, variant=variant))

    def cache_path(self, path: str | Path, variant: ClipVariant = CLEAN) -> Path:
        """Where the states of the file at ``path`` (as ``variant``) are or would be cached."""
        if self.cache_dir is None:
            raise ValueError("this extractor has no cache_dir")
        name = f"whisper-{self.fingerprint[:16]}"
        suffix = f".{variant.key}" if variant.key else ""
        return self.cache_dir / name / self.spec.key / f"{sha256_file(path)}{suffix}.npy"

    def _cached_states(self, path: Path, variant: ClipVariant) -> np.ndarray:
        target = self.cache_path(path, variant)
        try:
            cached = np.load(target, allow_pickle=False)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError) as exc:
            warnings.warn(f"unreadable cache file {target} ({exc}); recomputing", stacklevel=3)
        else:
            if cached.ndim == 2 and cached.dtype == np.float32 and cached.size:
                return cached
            warnings.warn(
                f"cache file {target} holds {cached.dtype} {cached.shape}; recomputing",
                stacklevel=3,
            )
        clip = self.read_audio(path)
        result = self._compute(clip, variant, target.name.split(".")[0])

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, result, allow_pickle=False)

        atomic_write(target, write)
        return result

    def states_many(
        self,
        clips: Sequence[AudioLike],
        sampling_rate: int | None = None,
        *,
        variant: ClipVariant = CLEAN,
        progress: bool = False,
        description: str = "Whisper states",
    ) -> list[np.ndarray]:
        """:meth:`states` of each clip (a progress bar with ``progress``)."""
        from emorl.progress import task_progress

        if not clips:
            raise ValueError("no clips")
        out = []
        with task_progress(progress) as bar:
            task = bar.add_task(description, total=len(clips))
            for clip in clips:
                out.append(self.states(clip, sampling_rate, variant=variant))
                bar.advance(task)
        return out

    def pooled_many(
        self,
        clips: Sequence[AudioLike],
        sampling_rate: int | None = None,
        *,
        variant: ClipVariant = CLEAN,
        progress: bool = False,
    ) -> np.ndarray:
        """:meth:`pooled` of each clip, stacked ``(n, 2 * d_model)``."""
        states = self.states_many(clips, sampling_rate, variant=variant, progress=progress)
        return np.stack([pool_states(s) for s in states])


# ------------------------------------------------------------------ the classifier


ADAPT_PRIOR_CLIPS = 1.0  # pseudo-clips of the training statistics in a new speaker's


class WhisperSER:
    """Per-speaker z-normalised Whisper encoder states -> a head (``logreg`` or ``attention``).

    ``head="logreg"``: the mean+std pool of the states, z-normalised per speaker, and a
    class-balanced logistic regression (``C`` fixed, or chosen from ``c_grid`` by a
    speaker-exclusive inner CV on the training speakers). ``head="attention"``: the frame
    states, z-normalised per speaker (over all that speaker's frames), and a small additive
    attention head (:class:`emorl.recognizers.speech.heads.AttentionHead`, ``attention``
    settings, ``seed``). ``spec`` (:class:`FeatureSpec`) says how the states are made; a
    saved model refuses states made another way. A new speaker's statistics come from
    their own unlabelled clips, shrunk towards the training statistics by ``adapt_prior``
    pseudo-clips (default 1 for the pooled head, 0 for frame states): one or two clips of
    a speaker would otherwise normalise to zeros or to noise.
    """

    def __init__(
        self,
        labels: Sequence[str] = ("neutral", "happy", "sad", "angry"),
        *,
        model: str | Path = "tiny.en",
        head: str = "logreg",
        spec: FeatureSpec | None = None,
        C: float | None = None,  # noqa: N803 (scikit-learn's name)
        c_grid: Sequence[float] = C_GRID,
        attention: AttentionConfig | None = None,
        seed: int = 0,
        threads: int = 2,
        cache_dir: str | Path | bool | None = None,
        features: WhisperEncoderFeatures | None = None,
        adapt_prior: float | None = None,
    ) -> None:
        from emorl.recognizers.speech.heads import make_head

        self.labels = tuple(str(label) for label in labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if spec is None:
            spec = features.spec if features is not None else FeatureSpec()
        if features is not None and features.spec != spec:
            raise ValueError(
                f"the feature extractor makes {features.spec.key} states, this SER reads {spec.key}"
            )
        self.spec = spec
        self.model = str(model) if features is None else features.model
        self.head = make_head(head, C=C, c_grid=c_grid, attention=attention)
        self.seed = int(seed)
        # pseudo-clips of the training statistics pooled into a new speaker's (pooled heads)
        if adapt_prior is None:
            adapt_prior = 0.0 if self.head.frame_level else ADAPT_PRIOR_CLIPS
        if adapt_prior < 0:
            raise ValueError(f"adapt_prior must be >= 0, got {adapt_prior}")
        self.adapt_prior = float(adapt_prior)
        self.threads, self.cache_dir = threads, cache_dir
        self._features = features
        self.model_fingerprint: str | None = None
        self.normalizer: FeatureNormalizer | None = None
        self.metrics: dict[str, Any] = {}
        self.training: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"WhisperSER({self.model!r}, head={self.head.kind!r}, {self.spec.key})"

    @property
    def head_kind(self) -> str:
        return self.head.kind

    @property
    def chosen_c(self) -> float | None:
        """The logistic regression's ``C`` (None for the attention head)."""
        return getattr(self.head, "chosen_c", None)

    @property
    def C(self) -> float | None:  # noqa: N802
        return getattr(self.head, "C", None)

    @property
    def c_grid(self) -> tuple[float, ...]:
        return tuple(getattr(self.head, "c_grid", C_GRID))

    @property
    def feature_size(self) -> int:
        """Width of :meth:`outputs`' penultimate features (what a fusion block reads)."""
        return self.head.feature_size

    @property
    def features(self) -> WhisperEncoderFeatures:
        """The encoder (created on first use; checked against the saved fingerprint)."""
        if self._features is None:
            self._features = WhisperEncoderFeatures(
                self.model, self.threads, spec=self.spec, cache_dir=self.cache_dir
            )
        self.check_encoder(self._features.fingerprint, self._features.spec, self._features.folder)
        return self._features

    def check_encoder(self, fingerprint: str, spec: FeatureSpec, where: Any = "") -> None:
        """Refuse states from another Whisper model or made another way than in training."""
        if self.model_fingerprint is not None and fingerprint != self.model_fingerprint:
            raise ValueError(
                f"the Whisper model in {where} is not the one this classifier "
                f"was trained on (fingerprint {fingerprint[:16]} != {self.model_fingerprint[:16]})"
            )
        if spec != self.spec:
            raise ValueError(
                f"this SER was trained on {self.spec.key} encoder states, not {spec.key}: "
                "states made another way (padded or not, loudness) are other numbers"
            )

    # ---------------------------------------------------------------- training

    def _label_ids(self, labels: Sequence[str]) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        unknown = sorted({str(label) for label in labels} - index.keys())
        if unknown:
            raise ValueError(f"labels {unknown} are not in {self.labels}")
        return np.array([index[str(label)] for label in labels], dtype=np.int64)

    def fit(
        self,
        clips: Sequence[AudioLike],
        labels: Sequence[str],
        speakers: Sequence[str],
        *,
        sampling_rate: int | None = None,
        augmentation: Augmentation | None = None,
        progress: bool = False,
    ) -> WhisperSER:
        """Train on audio clips (paths, arrays with ``sampling_rate``, or :class:`Audio`).

        With ``augmentation``, its ``copies`` augmented copies of every clip join the clean
        ones (same label and speaker).
        """
        clips, labels, speakers = list(clips), list(labels), list(speakers)
        states = self.features.states_many(clips, sampling_rate, progress=progress)
        all_labels, all_speakers = list(labels), list(speakers)
        if augmentation is not None:
            for copy in range(augmentation.copies):
                variant = ClipVariant("augment", copy=copy, policy=augmentation, seed=self.seed)
                states += self.features.states_many(
                    clips,
                    sampling_rate,
                    variant=variant,
                    progress=progress,
                    description=f"augmented copy {copy + 1}",
                )
                all_labels += labels
                all_speakers += speakers
            self.training["augmentation"] = augmentation.to_dict()
        self.model_fingerprint = self.features.fingerprint
        return self.fit_states(states, all_labels, all_speakers)

    def fit_states(
        self, states: Sequence[np.ndarray], labels: Sequence[str], speakers: Sequence[str]
    ) -> WhisperSER:
        """Train on encoder states ``(T, d_model)`` already computed (one array per clip)."""
        return self.fit_inputs([self.head.represent(s) for s in states], labels, speakers)

    def fit_vectors(
        self, vectors: np.ndarray, labels: Sequence[str], speakers: Sequence[str]
    ) -> WhisperSER:
        """Train the ``logreg`` head on pooled vectors ``(n, F)`` already computed."""
        if self.head.frame_level:
            raise ValueError("fit_vectors trains the logreg head; the attention head needs states")
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"vectors must be a non-empty (n, features) array, got {x.shape}")
        return self.fit_inputs(list(x), labels, speakers)

    def fit_inputs(
        self, inputs: Sequence[np.ndarray], labels: Sequence[str], speakers: Sequence[str]
    ) -> WhisperSER:
        """Train on what the head reads (``head.represent`` of each clip's states)."""
        inputs = [np.asarray(v, dtype=np.float32) for v in inputs]
        if not inputs:
            raise ValueError("no training clips")
        if not all(np.all(np.isfinite(v)) for v in inputs):
            raise ValueError("the inputs hold NaN or infinite values")
        y = self._label_ids(labels)
        names = [str(s) for s in speakers]
        if len(names) != len(inputs) or y.size != len(inputs):
            raise ValueError(
                f"{len(inputs)} clips, {y.size} labels and {len(names)} speakers differ"
            )
        self.normalizer = FeatureNormalizer.fit(inputs, "speaker", names)
        z = self.normalizer.transform_many(inputs, names)
        self.metrics.update(self.head.fit(z, y, names, len(self.labels), seed=self.seed))
        self.metrics["train_speakers"] = len(set(names))
        self.metrics["train_clips"] = len(inputs)
        return self

    # ---------------------------------------------------------------- speakers

    def _check_fitted(self) -> None:
        if not self.head.fitted or self.normalizer is None:
            raise RuntimeError("WhisperSER is not fitted: call fit() or from_pretrained()")

    def speaker_normalizer(
        self, inputs: Sequence[np.ndarray], speakers: Sequence[str]
    ) -> FeatureNormalizer:
        """The normaliser with statistics of ``speakers`` from these unlabelled inputs."""
        self._check_fitted()
        assert self.normalizer is not None
        return self.normalizer.adapt(
            list(inputs),
            [str(s) for s in speakers],
            overwrite=True,
            prior_count=self.adapt_prior,
        )

    def adapt_speaker(
        self, speaker: str, clips: Sequence[AudioLike], *, sampling_rate: int | None = None
    ) -> WhisperSER:
        """Store ``speaker``'s statistics from a few of their unlabelled clips (live use)."""
        states = self.features.states_many(list(clips), sampling_rate)
        return self.adapt_speaker_states(speaker, states)

    def adapt_speaker_states(self, speaker: str, states: Sequence[np.ndarray]) -> WhisperSER:
        """:meth:`adapt_speaker` from encoder states already computed."""
        inputs = [self.head.represent(s) for s in states]
        self.normalizer = self.speaker_normalizer(inputs, [speaker] * len(inputs))
        return self

    # ---------------------------------------------------------------- prediction

    def _normalised(
        self,
        inputs: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None,
        adapt: bool,
        normalizer: FeatureNormalizer | None = None,
    ) -> list[np.ndarray]:
        self._check_fitted()
        assert self.normalizer is not None
        names = [None if s is None else str(s) for s in (speakers or [None] * len(inputs))]
        if len(names) != len(inputs):
            raise ValueError(f"{len(inputs)} clips but {len(names)} speakers")
        expected = self.normalizer.num_features
        for v in inputs:
            shape = np.asarray(v).shape
            if shape[-1:] != (expected,):
                what = (
                    "frame states must be (T, " if self.head.frame_level else "vectors must be (n, "
                )
                raise ValueError(f"{what}{expected}), got {shape} (another model?)")
        norm = normalizer or self.normalizer
        if adapt and normalizer is None:
            known = [i for i, n in enumerate(names) if n is not None]
            norm = norm.covering(
                [inputs[i] for i in known], [names[i] for i in known], prior_count=self.adapt_prior
            )
        return [norm.transform(v, n) for v, n in zip(inputs, names, strict=True)]

    def proba_inputs(
        self,
        inputs: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None = None,
        *,
        adapt: bool = True,
        normalizer: FeatureNormalizer | None = None,
    ) -> np.ndarray:
        """Class probabilities ``(n, K)`` of head inputs (``head.represent`` of states).

        With ``adapt``, speakers without statistics are normalised on their own inputs given
        here (their clips, labels unused: the speaker-normalisation protocol); without it,
        or for ``None`` speakers, the global training statistics are used (with a warning).
        ``normalizer``: use this one as it is (e.g. from :meth:`speaker_normalizer`).
        """
        z = self._normalised(inputs, speakers, adapt, normalizer)
        return softmax(self.head.logits(z)).astype(np.float32)

    def predict_proba_states(
        self,
        states: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None = None,
        *,
        adapt: bool = True,
    ) -> np.ndarray:
        """Class probabilities ``(n, K)`` of encoder states (one ``(T, d)`` array per clip)."""
        return self.proba_inputs([self.head.represent(s) for s in states], speakers, adapt=adapt)

    def predict_proba_vectors(
        self, vectors: np.ndarray, speakers: Sequence[str], *, adapt: bool = True
    ) -> np.ndarray:
        """Class probabilities ``(n, K)`` of pooled vectors (the ``logreg`` head)."""
        if self.head.frame_level:
            raise ValueError("the attention head reads frame states: use predict_proba_states")
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"vectors must be (n, features), got {x.shape}")
        return self.proba_inputs(list(x), speakers, adapt=adapt)

    def predict_proba(
        self,
        clips: Sequence[AudioLike],
        speakers: Sequence[str | None] | None = None,
        *,
        sampling_rate: int | None = None,
        adapt: bool = True,
    ) -> np.ndarray:
        """Class probabilities ``(n, K)`` of audio clips with their speakers."""
        self._check_fitted()
        states = self.features.states_many(list(clips), sampling_rate)
        return self.predict_proba_states(states, speakers, adapt=adapt)

    def predict(
        self, clips: Sequence[AudioLike], speakers: Sequence[str | None] | None = None
    ) -> list[str]:
        """The most likely label of each clip."""
        proba = self.predict_proba(clips, speakers)
        return [self.labels[i] for i in np.argmax(proba, axis=1)]

    def outputs(
        self,
        states: Sequence[np.ndarray],
        speakers: Sequence[str | None] | None = None,
        *,
        adapt: bool = False,
        frame_states: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
        """Penultimate features ``(n, feature_size)``, probabilities ``(n, K)`` and frames.

        What a fusion block reads. ``frame_states``: also each clip's frame states
        ``(T, d_model)`` (normalised per speaker with the attention head, as it reads them;
        the raw encoder states with the logreg head, which normalises pooled vectors only).
        """
        z = self._normalised([self.head.represent(s) for s in states], speakers, adapt)
        feats = self.head.features(z)
        proba = softmax(self.head.logits(z)).astype(np.float32)
        frames = None
        if frame_states:
            if self.head.frame_level:
                frames = [np.asarray(v, dtype=np.float32) for v in z]
            else:
                frames = [np.asarray(s, dtype=np.float32) for s in states]
        return feats, proba, frames

    def states_from_encoded(self, encoded: Any) -> np.ndarray:
        """The states of an ASR encoder pass (:class:`emorl.asr.whisper.EncodedClip`).

        Only a ``padded`` SER reads them (the pass is the ASR's, padded to 30 s); the
        caller checks the pass was made with this SER's Whisper model and loudness.
        """
        if self.spec.mode != "padded":
            raise ValueError(
                "this SER was trained on unpadded encoder states; the ASR's encoder pass is "
                "padded to 30 s: compute its own states (WhisperSER.features.states)"
            )
        return encoded.states()

    # ---------------------------------------------------------------- storage

    def config(self) -> dict[str, Any]:
        from emorl import __version__
        from emorl.artifacts import model_type_fields

        return {
            "type": MODEL_TYPE,
            "kind": MODEL_TYPE,
            **model_type_fields(MODEL_TYPE, "WhisperSER"),
            "emorl_version": __version__,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "label2id": {label: i for i, label in enumerate(self.labels)},
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "features": {
                **self.spec.to_dict(),
                "states": "Whisper encoder states of the clip's own frames "
                + (
                    "from the 30 s padded window (the ASR's pass)"
                    if self.spec.mode == "padded"
                    else "encoded without padding"
                ),
            },
            "head": self.head.settings(),
            "seed": self.seed,
            "normalizer_mode": "speaker",
            "normalizer_level": "frames" if self.head.frame_level else "pooled",
            "adapt_prior": self.adapt_prior,
            "pooling": "attention" if self.head.frame_level else "mean+std",
            "C": self.chosen_c,
            "c_grid": list(self.c_grid),
            "training": self.training,
            "metrics": self.metrics,
        }

    def save_pretrained(
        self,
        folder: str | Path,
        *,
        card: str | None = None,
        files: dict[str, str | Path] | None = None,
    ) -> Path:
        """Write ``model.safetensors`` and ``config.json`` (``card`` as ``README.md``, and
        ``files``: name -> a file to copy in) as one folder, whole or not at all."""
        import shutil

        from safetensors.numpy import save_file

        from emorl.artifacts import staged_folder, write_json

        self._check_fitted()
        assert self.normalizer is not None
        folder = Path(folder)
        arrays = {**self.head.to_arrays(), **self.normalizer.to_arrays()}
        with staged_folder(folder) as stage:
            atomic_write(stage / WEIGHTS_NAME, lambda tmp: save_file(arrays, str(tmp)))
            write_json(stage / CONFIG_NAME, self.config())
            if card is not None:
                atomic_write(stage / "README.md", lambda tmp: tmp.write_text(card, "utf-8"))
            for name, source in (files or {}).items():
                atomic_write(stage / name, lambda tmp, src=source: shutil.copyfile(src, tmp))
        return folder

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        model: str | Path | None = None,
        threads: int = 2,
        cache_dir: str | Path | bool | None = None,
    ) -> WhisperSER:
        """Load a folder written by :meth:`save_pretrained` (``None``: the shipped model).

        ``model`` overrides where the Whisper model is found (a folder); its fingerprint must
        match the saved one when features are computed.
        """
        from emorl.artifacts import ModelFolderError, load_safetensors
        from emorl.recognizers.speech.heads import AttentionHead, LogRegHead

        folder = Path(folder) if folder is not None else DEFAULT_WHISPER_SER_DIR
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise ModelFolderError(f"{path}: missing (not a WhisperSER folder?)")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ModelFolderError(f"{config_path}: not valid JSON ({err})") from err
        kind = config.get("type", config.get("kind"))
        if kind != MODEL_TYPE:
            raise ModelFolderError(f"{config_path}: not a WhisperSER config (type={kind!r})")
        arrays = {k: v.numpy() for k, v in load_safetensors(weights_path).items()}
        head_config = config.get("head") or {"kind": "logreg", "C": config.get("C")}
        features_config = config.get("features") or {"mode": "unpadded", "loudness_db": None}
        spec = FeatureSpec.from_dict(
            {k: features_config[k] for k in ("mode", "loudness_db") if k in features_config}
        )
        ser = cls(
            config["labels"],
            model=model if model is not None else config["model"],
            head=head_config["kind"],
            spec=spec,
            seed=config.get("seed", 0),
            threads=threads,
            cache_dir=cache_dir,
            adapt_prior=config.get("adapt_prior", 0.0),  # saved before shrinkage: none
        )
        try:
            if head_config["kind"] == "logreg":
                head_config = {
                    "C": config.get("C"),
                    "c_grid": config.get("c_grid", C_GRID),
                    **head_config,
                }
                ser.head = LogRegHead.from_arrays(arrays, head_config)
            else:
                ser.head = AttentionHead.from_arrays(arrays, head_config)
            ser.normalizer = FeatureNormalizer.from_arrays(arrays, "speaker")
        except (KeyError, ValueError, RuntimeError) as err:
            raise ModelFolderError(f"{weights_path}: does not match {config_path} ({err})") from err
        ser.model_fingerprint = config.get("model_fingerprint")
        ser.metrics = dict(config.get("metrics", {}))
        ser.training = dict(config.get("training", {}))
        if ser.head.n_classes != len(ser.labels):
            raise ModelFolderError(
                f"{weights_path}: {ser.head.n_classes} classes, config {ser.labels}"
            )
        return ser


# ------------------------------------------------------------------ cross-validation


def _report_summary(reports: Sequence[Any]) -> dict[str, Any]:
    """Mean ± sample std (``ddof=1``) of WA, UA and macro-F1 over fold x seed reports."""
    out: dict[str, Any] = {}
    for metric in ("accuracy", "ua", "macro_f1"):
        values = np.array([getattr(r, metric) for r in reports], dtype=np.float64)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out[metric] = {"mean": float(values.mean()), "std": std}
    out["wa"] = out["accuracy"]
    out["confusion"] = np.sum([r.confusion for r in reports], axis=0).astype(int).tolist()
    return out


def crossval_whisper_ser(
    path: str | Path,
    model: str | Path = "tiny.en",
    folds: int = 5,
    seed: int = 0,
    *,
    corpus: str = "ravdess",
    speakers: Sequence[str] | None = RAVDESS_SPEAKERS,
    clips_per_label: int | None = None,
    head: str = "logreg",
    spec: FeatureSpec | None = None,
    C: float | None = None,  # noqa: N803
    attention: AttentionConfig | None = None,
    seeds: Sequence[int] = (0,),
    augmentation: Augmentation | None = None,
    degradations: Sequence[str] = (),
    adapt_clips: Sequence[int] = (),
    adapt_draws: int = 5,
    adapt_prior: float | None = None,
    threads: int = 2,
    cache_dir: str | Path | bool | None = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Speaker-exclusive ``folds``-fold CV of :class:`WhisperSER` (four classes).

    Folds are the project's stratified group-exclusive split
    (:func:`emorl.evaluation.group_kfold` with ``seed``, via
    :func:`emorl.evaluation.cross_validate`), one model per fold and initialisation seed
    (``seeds``; the logreg head is deterministic, so one is enough); ``C`` is chosen on each
    fold's training speakers only. ``speakers``: the speakers kept (RAVDESS actors 1-20 by
    default; ``None`` keeps all); ``clips_per_label`` keeps each speaker's first clips of
    each label (for quick checks).

    Every test speaker is normalised with statistics of all their test clips (labels
    unused). More test conditions, scored with the same models:

    * ``augmentation``: training clips get that many augmented copies (test clips never);
    * ``degradations``: names of :data:`emorl.recognizers.speech.augment.DEGRADATIONS`; the
      test clips degraded so, each speaker normalised on their own degraded clips;
    * ``adapt_clips``: e.g. ``(4, 8)``: each test speaker's statistics from only k of their
      clips drawn at random (``adapt_draws`` draws, their scores averaged per fold).

    ``adapt_prior``: pseudo-clips of the training statistics pooled into each test
    speaker's (:class:`WhisperSER`; None: its default).

    Returns the summary (WA = accuracy and UA mean ± std with ``ddof=1`` over fold x seed
    runs, confusion, per-fold details, every condition under ``conditions``, timings);
    with ``out``, writes ``crossval.json`` and ``confusion_crossval.png`` there.
    """
    from emorl.data import load_corpus
    from emorl.evaluation import classification_report, cross_validate, save_cv
    from emorl.recognizers.speech.augment import DEGRADATIONS
    from emorl.recognizers.speech.heads import make_head

    begun = time.perf_counter()
    unknown = [d for d in degradations if d not in DEGRADATIONS]
    if unknown:
        raise ValueError(f"unknown degradations {unknown}: choose from {', '.join(DEGRADATIONS)}")
    if any(k < 1 for k in adapt_clips) or adapt_draws < 1:
        raise ValueError("adapt_clips must be positive counts and adapt_draws >= 1")
    make_head(head)  # a bad head name fails before any feature is computed
    data = load_corpus(corpus, path, labels="four")
    keep = None if speakers is None else {str(s) for s in speakers}
    utterances: list[Any] = []
    counts: dict[tuple[str, str], int] = {}
    for utt in data.utterances:
        if utt.audio_path is None or utt.speaker is None:
            continue
        if keep is not None and utt.speaker not in keep:
            continue
        key = (utt.speaker, utt.label)
        counts[key] = counts.get(key, 0) + 1
        if clips_per_label is not None and counts[key] > clips_per_label:
            continue
        utterances.append(utt)
    if not utterances:
        raise ValueError(f"no {corpus} clips with audio and speaker in {path}")
    labels = tuple(data.labels)
    spec = spec or FeatureSpec()
    features = WhisperEncoderFeatures(model, threads, spec=spec, cache_dir=cache_dir)
    paths = [u.audio_path for u in utterances]
    represent = make_head(head).represent
    feature_begun = time.perf_counter()
    clean = [represent(s) for s in features.states_many(paths, progress=progress)]
    copies: list[list[np.ndarray]] = []
    if augmentation is not None:
        for copy in range(augmentation.copies):
            variant = ClipVariant("augment", copy=copy, policy=augmentation, seed=0)
            states = features.states_many(
                paths, variant=variant, progress=progress, description=f"augmented {copy + 1}"
            )
            copies.append([represent(s) for s in states])
    degraded: dict[str, list[np.ndarray]] = {}
    for name in degradations:
        states = features.states_many(
            paths, variant=ClipVariant("degrade", name=name), progress=progress, description=name
        )
        degraded[name] = [represent(s) for s in states]
    feature_seconds = time.perf_counter() - feature_begun
    names = [str(u.speaker) for u in utterances]
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[u.label] for u in utterances], dtype=np.int64)
    fold_info: list[dict[str, Any]] = []
    extra_reports: dict[str, list[Any]] = {name: [] for name in degradations}
    for k in adapt_clips:
        extra_reports[f"adapt_k{k}"] = []

    def fit_predict(train: np.ndarray, test: np.ndarray, run_seed: int) -> np.ndarray:
        ser = WhisperSER(
            labels,
            head=head,
            spec=spec,
            C=C,
            attention=attention,
            seed=run_seed,
            features=features,
            adapt_prior=adapt_prior,
        )
        train_inputs = [clean[i] for i in train] + [c[i] for c in copies for i in train]
        repeats = 1 + len(copies)
        ser.fit_inputs(
            train_inputs,
            [labels[i] for i in y[train]] * repeats,
            [names[i] for i in train] * repeats,
        )
        test_names = [names[i] for i in test]
        proba = ser.proba_inputs([clean[i] for i in test], test_names)
        for name, inputs in degraded.items():
            pred = np.argmax(ser.proba_inputs([inputs[i] for i in test], test_names), axis=1)
            extra_reports[name].append(classification_report(y[test], pred, labels))
        for k in adapt_clips:
            draws = []
            for draw in range(adapt_draws):
                rng = np.random.default_rng([seed, run_seed, len(fold_info), k, draw])
                chosen: list[int] = []
                for speaker in sorted(set(test_names)):
                    own = [int(i) for i in test if names[i] == speaker]
                    chosen += [
                        int(i) for i in rng.choice(own, size=min(k, len(own)), replace=False)
                    ]
                normalizer = ser.speaker_normalizer(
                    [clean[i] for i in chosen], [names[i] for i in chosen]
                )
                p = ser.proba_inputs([clean[i] for i in test], test_names, normalizer=normalizer)
                draws.append(classification_report(y[test], np.argmax(p, axis=1), labels))
            extra_reports[f"adapt_k{k}"].append(_MeanReport(draws))
        fold_info.append(
            {
                "test_speakers": sorted(set(test_names)),
                "seed": run_seed,
                "C": ser.chosen_c,
                "inner_cv_ua": ser.metrics.get("inner_cv_ua", {}),
            }
        )
        return np.argmax(proba, axis=1)

    classify_begun = time.perf_counter()
    result = cross_validate(
        fit_predict,
        y,
        labels,
        folds=folds,
        seeds=tuple(int(s) for s in seeds),
        groups=names,
        split_seed=seed,
        progress=progress,
    )
    classify_seconds = time.perf_counter() - classify_begun
    for info, run in zip(fold_info, result.runs, strict=True):
        info.update(wa=run.report.accuracy, ua=run.report.ua)
    summary = result.summary()
    conditions = {"clean": _report_summary([run.report for run in result.runs])}
    for name, reports in extra_reports.items():
        conditions[name] = _report_summary(reports)
        if name in DEGRADATIONS:
            conditions[name]["description"] = DEGRADATIONS[name][0]
        else:
            conditions[name]["description"] = (
                f"speaker statistics from {name.removeprefix('adapt_k')} random clips of each "
                f"test speaker (mean of {adapt_draws} draws per fold)"
            )
    width, frame_level = np.asarray(clean[0]).shape[-1], make_head(head).frame_level
    head_settings: dict[str, Any] = {"kind": head}
    if head == "logreg":
        head_settings.update(C=C, c_grid=list(C_GRID))
    else:
        head_settings.update((attention or AttentionConfig()).to_dict())
    summary.update(
        wa=summary["accuracy"],
        corpus=corpus,
        model=features.model,
        model_folder=str(features.folder),
        model_fingerprint=features.fingerprint,
        d_model=int(width if frame_level else width // 2),
        speakers=len(set(names)),
        clips=len(utterances),
        head=head,
        head_settings=head_settings,
        feature_spec=spec.to_dict(),
        features=f"whisper encoder states ({spec.mode}, loudness {spec.loudness_db}), "
        f"speaker z-norm, {head} head",
        augmentation=augmentation.to_dict() if augmentation is not None else None,
        conditions=conditions,
        fold_details=fold_info,
        seed=seed,
        threads=threads,
        protocol={
            "folds": folds,
            "seeds": [int(s) for s in seeds],
            "group": "speaker",
            "split_seed": seed,
            "label_mode": "four",
        },
        formatted={m: result.format(m) for m in ("accuracy", "ua", "macro_f1")},
        seconds=round(time.perf_counter() - begun, 1),
        timings={
            "features_s": round(feature_seconds, 2),
            "classifier_cv_s": round(classify_seconds, 2),
            "features_per_clip_s": round(feature_seconds / len(utterances), 4),
        },
    )
    if out is not None:
        title = f"Whisper {features.model} SER ({head}), {folds}-fold speaker CV"
        save_cv(result, summary, out, title)
    return summary


@dataclass
class _MeanReport:
    """The mean of several reports' WA, UA and macro-F1 (draws of adaptation clips)."""

    reports: list[Any]

    @property
    def accuracy(self) -> float:
        return float(np.mean([r.accuracy for r in self.reports]))

    @property
    def ua(self) -> float:
        return float(np.mean([r.ua for r in self.reports]))

    @property
    def macro_f1(self) -> float:
        return float(np.mean([r.macro_f1 for r in self.reports]))

    @property
    def confusion(self) -> np.ndarray:
        return np.sum([r.confusion for r in self.reports], axis=0)


# ------------------------------------------------------------------ evaluating a saved model


def evaluate_whisper_ser(
    ser: WhisperSER,
    corpus: str,
    path: str | Path,
    *,
    speakers: Sequence[str] | None = None,
    adapt_clips: int | None = None,
    degradation: str | None = None,
    seed: int = 0,
    confusion_png: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a trained Whisper SER on a corpus (its labels mapped to the model's four).

    Each speaker is normalised with statistics of their own clips (labels unused): all of
    them, or ``adapt_clips`` drawn at random (``seed``). ``degradation``: score the clips
    degraded so (:data:`emorl.recognizers.speech.augment.DEGRADATIONS`). Clips the features
    cannot use (too short, silent) are counted in ``skipped``.
    """
    from emorl.data import load_corpus
    from emorl.evaluation import classification_report, plot_confusion_matrix

    data = load_corpus(corpus, path, labels="four")
    if tuple(data.labels) != ser.labels:
        raise ValueError(f"{corpus} yields labels {data.labels}, the model predicts {ser.labels}")
    keep = None if speakers is None else {str(s) for s in speakers}
    utterances = [
        u
        for u in data.utterances
        if u.audio_path is not None and (keep is None or u.speaker in keep)
    ]
    if not utterances:
        raise ValueError(f"{path}: no {corpus} clips with audio to evaluate")
    variant = CLEAN if degradation is None else ClipVariant("degrade", name=degradation)
    features = ser.features
    inputs, y, names = [], [], []
    skipped: dict[str, int] = dict(getattr(data, "skipped", {}) or {})
    index = {label: i for i, label in enumerate(ser.labels)}
    from emorl.progress import task_progress

    begun = time.perf_counter()
    with task_progress(progress) as bar:
        task = bar.add_task(f"{corpus} clips", total=len(utterances))
        for u in utterances:
            try:
                states = features.states(u.audio_path, variant=variant)  # type: ignore[arg-type]
            except AudioError as err:
                reason = err.problem.split(" (")[0]
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                inputs.append(ser.head.represent(states))
                y.append(index[u.label])
                names.append(str(u.speaker) if u.speaker is not None else "<unknown>")
            bar.advance(task)
    if not inputs:
        raise ValueError(f"{path}: none of the {corpus} clips could be used")
    feature_seconds = time.perf_counter() - begun
    normalizer = None
    if adapt_clips is not None:
        rng = np.random.default_rng(seed)
        chosen: list[int] = []
        for speaker in sorted(set(names)):
            own = [i for i, n in enumerate(names) if n == speaker]
            chosen += [int(i) for i in rng.choice(own, min(adapt_clips, len(own)), replace=False)]
        normalizer = ser.speaker_normalizer([inputs[i] for i in chosen], [names[i] for i in chosen])
    proba = ser.proba_inputs(inputs, names, adapt=True, normalizer=normalizer)
    report = classification_report(np.asarray(y), np.argmax(proba, axis=1), ser.labels)
    if confusion_png is not None:
        plot_confusion_matrix(
            report.confusion, ser.labels, confusion_png, title=f"Whisper SER on {corpus}"
        )
    out = report.to_dict()
    out.update(
        corpus=corpus,
        data=str(path),
        skipped=skipped,
        speakers=len(set(names)),
        speaker_statistics="all clips" if adapt_clips is None else f"{adapt_clips} clips",
        degradation=degradation,
        features_seconds=round(feature_seconds, 2),
    )
    return out


# ------------------------------------------------------------------ training the shipped model


def train_whisper_ser(
    path: str | Path,
    out: str | Path,
    model: str | Path = "tiny.en",
    *,
    corpus: str = "ravdess",
    speakers: Sequence[str] | None = RAVDESS_SPEAKERS,
    head: str = "logreg",
    spec: FeatureSpec | None = None,
    C: float | None = None,  # noqa: N803
    attention: AttentionConfig | None = None,
    augmentation: Augmentation | None = None,
    seed: int = 0,
    cv_folds: int | None = 5,
    degradations: Sequence[str] = (),
    adapt_clips: Sequence[int] = (),
    adapt_prior: float | None = None,
    threads: int = 2,
    cache_dir: str | Path | bool | None = None,
    progress: bool = False,
) -> WhisperSER:
    """Train a :class:`WhisperSER` on all ``speakers`` and save it with its model card.

    With ``cv_folds``, the same recipe is first cross-validated speaker-exclusively
    (:func:`crossval_whisper_ser`, also over ``degradations`` and ``adapt_clips``); its
    summary goes into ``config.json`` (``metrics.crossval``) and the card, and its confusion
    matrix next to them (``confusion_crossval.png``).
    """
    from emorl.artifacts import data_reference
    from emorl.data import load_corpus
    from emorl.recognizers.speech.card import whisper_ser_card

    begun = time.perf_counter()
    spec = spec or FeatureSpec()
    summary = None
    with tempfile.TemporaryDirectory() as tmp:
        if cv_folds:
            summary = crossval_whisper_ser(
                path,
                model,
                cv_folds,
                seed,
                corpus=corpus,
                speakers=speakers,
                head=head,
                spec=spec,
                C=C,
                attention=attention,
                seeds=(seed,),
                augmentation=augmentation,
                degradations=degradations,
                adapt_clips=adapt_clips,
                adapt_prior=adapt_prior,
                threads=threads,
                cache_dir=cache_dir,
                out=tmp,
                progress=progress,
            )
        data = load_corpus(corpus, path, labels="four")
        keep = None if speakers is None else {str(s) for s in speakers}
        utterances = [
            u
            for u in data.utterances
            if u.audio_path is not None
            and u.speaker is not None
            and (keep is None or u.speaker in keep)
        ]
        if not utterances:
            raise ValueError(f"no {corpus} clips with audio and speaker in {path}")
        ser = WhisperSER(
            data.labels,
            model=model,
            head=head,
            spec=spec,
            C=C,
            attention=attention,
            seed=seed,
            threads=threads,
            cache_dir=cache_dir,
            adapt_prior=adapt_prior,
        )
        fit_begun = time.perf_counter()
        ser.fit(
            [u.audio_path for u in utterances],  # type: ignore[misc]
            [u.label for u in utterances],
            [str(u.speaker) for u in utterances],
            augmentation=augmentation,
            progress=progress,
        )
        counts: dict[str, int] = {}
        for u in utterances:
            counts[u.label] = counts.get(u.label, 0) + 1
        ser.training.update(
            data=data_reference(corpus, path),
            speakers=sorted({str(u.speaker) for u in utterances}),
            train_counts=counts,
            skipped=getattr(data, "skipped", {}),
            seed=seed,
            threads=threads,
            seconds=round(time.perf_counter() - fit_begun, 1),
        )
        if summary is not None:
            ser.metrics["crossval"] = {
                k: summary[k]
                for k in (
                    "accuracy",
                    "ua",
                    "macro_f1",
                    "confusion",
                    "conditions",
                    "fold_details",
                    "protocol",
                    "folds",
                    "seeds",
                    "n",
                    "clips",
                    "speakers",
                    "timings",
                )
                if k in summary
            }
        ser.training["total_seconds"] = round(time.perf_counter() - begun, 1)
        files = {}
        if summary is not None:
            files["confusion_crossval.png"] = Path(tmp) / "confusion_crossval.png"
        card = whisper_ser_card(ser.config(), Path(out).name, has_confusion=bool(files))
        ser.save_pretrained(out, card=card, files=files)
    return ser


def _augmentation_arg(copies: int) -> Augmentation | None:
    from emorl.recognizers.speech.augment import Augmentation

    return Augmentation(copies=copies) if copies > 0 else None


def add_whisper_options(parser: Any) -> None:
    """The Whisper SER's recipe options (this module's CLI and ``emorl ... ser``)."""
    parser.add_argument(
        "--head",
        choices=("logreg", "attention"),
        default="logreg",
        help="logreg: mean+std pooled states + logistic regression; attention: additive "
        "attention over the frame states -> dense -> softmax (torch)",
    )
    parser.add_argument(
        "--feature-mode",
        choices=FEATURE_MODES,
        default="padded",
        help="padded: the ASR's 30 s pass sliced to the clip (what IEmoNet shares); "
        "unpadded: the clip's own frames only (cheaper for the SER alone)",
    )
    parser.add_argument(
        "--loudness",
        default="-23",
        help="gated loudness target in dB the clip is scaled to first, or 'none'",
    )
    parser.add_argument("--C", type=float, default=None, help="fixed C (logreg; default: inner CV)")
    parser.add_argument(
        "--head-epochs", type=int, default=None, help="attention head epochs (default 30)"
    )
    parser.add_argument(
        "--augment", type=int, default=0, help="augmented copies of each training clip (0: none)"
    )
    parser.add_argument(
        "--degrade",
        default="",
        help="comma-separated test conditions to score too (noise,reverb,speed,telephone)",
    )
    parser.add_argument(
        "--adapt-clips",
        default="",
        help="comma-separated k: also score speaker statistics from only k clips (e.g. 4,8)",
    )
    parser.add_argument(
        "--adapt-prior",
        type=float,
        default=None,
        help="pseudo-clips of the training statistics pooled into a new speaker's "
        f"(default {ADAPT_PRIOR_CLIPS:g} for logreg, 0 for attention)",
    )


def recipe_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`crossval_whisper_ser` / :func:`train_whisper_ser`."""
    loudness = None if str(args.loudness).lower() == "none" else float(args.loudness)
    attention = None
    if args.head == "attention" and args.head_epochs is not None:
        attention = AttentionConfig(epochs=args.head_epochs)
    return {
        "head": args.head,
        "spec": FeatureSpec(mode=args.feature_mode, loudness_db=loudness),
        "C": args.C,
        "attention": attention,
        "augmentation": _augmentation_arg(args.augment),
        "degradations": tuple(d for d in args.degrade.split(",") if d),
        "adapt_clips": tuple(int(k) for k in args.adapt_clips.split(",") if k),
        "adapt_prior": args.adapt_prior,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emorl.recognizers.speech.whisper",
        description="Speaker-exclusive CV of the Whisper-encoder SER on RAVDESS actors 1-20 "
        "(or, with --train, train it on all of them and save it with its card).",
    )
    parser.add_argument("--data", required=True, help="RAVDESS folder (Actor_01 ...)")
    parser.add_argument("--model", default="tiny.en", help="tiny.en, base or a CT2 folder")
    parser.add_argument("--out", required=True, help="folder for crossval.json (or the model)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="initialisations per fold")
    parser.add_argument("--train", action="store_true", help="train on all and save a model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-cache", action="store_true", help="do not use the feature cache")
    add_whisper_options(parser)
    args = parser.parse_args(argv)
    recipe = recipe_from_args(args)
    recipe.update(threads=args.threads, cache_dir=False if args.no_cache else None)
    if args.train:
        ser = train_whisper_ser(
            args.data,
            args.out,
            args.model,
            seed=args.seed,
            cv_folds=args.folds,
            progress=True,
            **recipe,
        )
        cv = ser.metrics.get("crossval", {})
        if cv:
            print(f"CV UA {cv['ua']['mean']:.3f} ± {cv['ua']['std']:.3f}")
        print(f"trained on {ser.metrics['train_clips']} clips -> {args.out}")
        return 0
    summary = crossval_whisper_ser(
        args.data,
        args.model,
        folds=args.folds,
        seed=args.seed,
        seeds=tuple(range(args.seeds)),
        out=args.out,
        progress=True,
        **recipe,
    )
    for name, row in summary["conditions"].items():
        wa, ua = row["accuracy"], row["ua"]
        print(
            f"{name:>10}: WA {wa['mean']:.3f} ± {wa['std']:.3f}, UA {ua['mean']:.3f} ± "
            f"{ua['std']:.3f}"
        )
    print(
        f"Whisper {summary['model']} ({summary['head']}, {summary['feature_spec']}): "
        f"{summary['folds']} folds, {summary['clips']} clips, {summary['seconds']:.1f} s "
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
