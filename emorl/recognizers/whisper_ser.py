"""Speech emotion recognition on Whisper encoder states (CTranslate2), pooled per clip.

:class:`WhisperEncoderFeatures` runs only the encoder of a CTranslate2 Whisper model
(``ctranslate2.models.Whisper.encode``) on the log-mel features of a clip, computed as
faster-whisper computes them (:class:`faster_whisper.feature_extractor.FeatureExtractor`).
The mel input is **not** padded to Whisper's 30 s window: the encoder accepts the clip's own
frames, and its cost then scales with the clip (on 2 cores, a 3 s clip takes about 0.01 s
with tiny.en and 0.02 s with base, against 0.25 s and 0.50 s padded to 30 s; the unpadded
states correlate with the padded-then-cropped ones at r = 0.97, their mean/std pools at
r >= 0.98). Frames are cut to an even count, clips longer than 30 s are encoded in 30 s
windows whose states are concatenated. ``states`` returns ``(T, d_model)``, ``T`` = half the
mel frames; ``pooled`` returns their mean and standard deviation, ``(2 * d_model,)``.

Audio enters through :func:`emorl.audio.load_audio` (:data:`WHISPER_SER_POLICY`: any
length, shorter than 0.3 s or silent is an :class:`emorl.audio.AudioError`). Pooled vectors
of files are cached on disk at
``$EMORL_CACHE/features/whisper-<model fingerprint[:16]>/pooled/<sha256 of the file>.npy``
(the root IS09 features use, :func:`emorl.recognizers.ser_workflow.default_cache_dir`).

:class:`WhisperSER` z-normalises the pooled vectors per speaker (the speaker's own clips,
labels unused; unseen speakers on their own clips, :class:`FeatureNormalizer` in
``"speaker"`` mode) and classifies them with a class-balanced scikit-learn
``LogisticRegression`` whose ``C`` is chosen by a speaker-exclusive inner cross-validation
on the training speakers only (or fixed by the caller). It saves as ``model.safetensors``
(coefficients and normaliser statistics) and ``config.json`` (labels, model fingerprint,
metrics); no pickle.

``python -m emorl.recognizers.whisper_ser --data ravdess/ --model tiny.en --out runs/x``
runs :func:`crossval_whisper_ser` (speaker-exclusive 5-fold CV, RAVDESS actors 1-20) and
writes ``crossval.json`` and ``confusion_crossval.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import atomic_write
from emorl.audio import TARGET_SR, Audio, AudioError, AudioPolicy, load_audio
from emorl.recognizers.speech_features import FeatureNormalizer

__all__ = [
    "C_GRID",
    "WHISPER_SER_POLICY",
    "WhisperEncoderFeatures",
    "WhisperSER",
    "crossval_whisper_ser",
    "default_cache_dir",
    "main",
    "resolve_whisper_folder",
]

#: Audio checks: any length (30 s windows), too short or silent is an error.
WHISPER_SER_POLICY = AudioPolicy(min_seconds=0.3, max_seconds=None, silence="error")
#: Bump when what ``pooled`` returns changes, so old caches are not reused.
FORMAT_VERSION = 1
#: Inverse regularisation strengths tried on the training speakers.
C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
#: Mel frames of one Whisper window (30 s at 10 ms hops).
WINDOW_FRAMES = 3000
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
RAVDESS_SPEAKERS: tuple[str, ...] = tuple(f"ravdess_{i:02d}" for i in range(1, 21))

AudioLike = str | Path | np.ndarray | Audio


def default_cache_dir() -> Path:
    """``$EMORL_CACHE/features`` or ``~/.cache/emorl/features`` (as for IS09 features)."""
    root = os.environ.get("EMORL_CACHE") or Path.home() / ".cache" / "emorl"
    return Path(root) / "features"


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


@lru_cache(maxsize=8)
def _folder_fingerprint(folder: str, compute_type: str) -> str:
    from emorl.asr.whisper import _folder_digest

    digest = hashlib.sha256(_folder_digest(folder).encode())
    digest.update(f"\0{compute_type}\0whisper-ser-pooled-v{FORMAT_VERSION}".encode())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WhisperEncoderFeatures:
    """Whisper encoder states of a clip's own frames, and their mean+std pool.

    ``model``: ``"tiny.en"`` (packaged), ``"base"`` (installed offline, see
    :mod:`emorl.asr.models`) or a CTranslate2 Whisper folder. ``cache_dir``: where pooled
    vectors of files are kept (``None``: :func:`default_cache_dir`; ``False``: no cache).
    The model loads on first use.
    """

    def __init__(
        self,
        model: str | Path = "tiny.en",
        threads: int = 2,
        *,
        compute_type: str = "int8",
        cache_dir: str | Path | bool | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.model = str(model)
        self.folder = resolve_whisper_folder(model)
        self.threads = threads
        self.compute_type = compute_type
        if cache_dir is False:
            self.cache_dir: Path | None = None
        elif cache_dir is None or cache_dir is True:
            self.cache_dir = default_cache_dir()
        else:
            self.cache_dir = Path(cache_dir)
        self._encoder: Any = None
        self._extractor: Any = None
        self._d_model: int | None = None

    def __repr__(self) -> str:
        return f"WhisperEncoderFeatures({self.model!r}, folder={str(self.folder)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_encoder": None, "_extractor": None}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the model folder's files, the compute type and the pooling version."""
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
            self._extractor = FeatureExtractor()
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

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """Log-mel features ``(80, frames)`` as faster-whisper computes them, even frames."""
        self.load()
        features = self._extractor(np.asarray(samples, dtype=np.float32))[..., :-1]
        frames = features.shape[1] - features.shape[1] % 2
        return np.ascontiguousarray(features[:, :frames], dtype=np.float32)

    def states(self, audio: AudioLike, sampling_rate: int | None = None) -> np.ndarray:
        """Encoder states ``(T, d_model)`` float32 of the clip's own frames (no padding)."""
        import ctranslate2

        clip = self.read_audio(audio, sampling_rate)
        features = self.mel(clip.samples)
        parts = []
        for start in range(0, features.shape[1], WINDOW_FRAMES):
            window = np.ascontiguousarray(features[None, :, start : start + WINDOW_FRAMES])
            if window.shape[2] < 2:
                continue
            encoded = self._encoder.encode(ctranslate2.StorageView.from_array(window))
            parts.append(np.asarray(encoded, dtype=np.float32)[0])
        if not parts:
            raise AudioError(clip.source, "too short for the Whisper encoder")
        return np.concatenate(parts, axis=0)

    def pooled(self, audio: AudioLike, sampling_rate: int | None = None) -> np.ndarray:
        """Mean and standard deviation of :meth:`states` over time: ``(2 * d_model,)``.

        For a file with a cache folder, the vector is read from / written to the cache.
        """
        if isinstance(audio, (str, Path)) and self.cache_dir is not None:
            return self._pooled_file(Path(audio))
        return self._pool(self.states(audio, sampling_rate))

    @staticmethod
    def _pool(states: np.ndarray) -> np.ndarray:
        values = states.astype(np.float64)
        return np.concatenate([values.mean(axis=0), values.std(axis=0)]).astype(np.float32)

    def cache_path(self, path: str | Path) -> Path:
        """Where the pooled vector of the file at ``path`` is (or would be) cached."""
        if self.cache_dir is None:
            raise ValueError("this extractor has no cache_dir")
        name = f"whisper-{self.fingerprint[:16]}"
        return self.cache_dir / name / "pooled" / f"{_sha256(Path(path))}.npy"

    def _pooled_file(self, path: Path) -> np.ndarray:
        target = self.cache_path(path)
        try:
            cached = np.load(target, allow_pickle=False)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, EOFError) as exc:
            warnings.warn(f"unreadable cache file {target} ({exc}); recomputing", stacklevel=3)
        else:
            if cached.ndim == 1 and cached.dtype == np.float32 and cached.size:
                return cached
            warnings.warn(
                f"cache file {target} holds {cached.dtype} {cached.shape}; recomputing",
                stacklevel=3,
            )
        result = self._pool(self.states(path))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, result, allow_pickle=False)

        atomic_write(target, write)
        return result

    def pooled_many(
        self, clips: Sequence[AudioLike], sampling_rate: int | None = None
    ) -> np.ndarray:
        """:meth:`pooled` of each clip, stacked ``(n, 2 * d_model)``."""
        if not clips:
            raise ValueError("no clips")
        return np.stack([self.pooled(clip, sampling_rate) for clip in clips])


# ------------------------------------------------------------------ the classifier


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _fit_lr(
    x: np.ndarray, y: np.ndarray, c: float, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced logistic regression; coefficients as ``(K, F)``, intercepts ``(K,)``."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y)
    if present.size < 2:
        raise ValueError("the training labels hold a single class")
    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    lr.fit(x, y)
    coef = np.asarray(lr.coef_, dtype=np.float64)
    intercept = np.asarray(lr.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # binary: softmax of (-z/2, z/2) is the sigmoid of z
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    full_coef = np.zeros((n_classes, x.shape[1]))
    full_int = np.full(n_classes, -1e4)  # classes absent from training are never predicted
    full_coef[lr.classes_] = coef
    full_int[lr.classes_] = intercept
    return full_coef.astype(np.float32), full_int.astype(np.float32)


def _choose_c(
    x: np.ndarray, y: np.ndarray, speakers: Sequence[str], grid: Sequence[float], n_classes: int
) -> tuple[float, dict[str, float]]:
    """The ``C`` of ``grid`` with the best mean UA over speaker-exclusive inner folds."""
    from emorl.evaluation import classification_report, group_kfold

    n_speakers = len(set(speakers))
    if len(grid) == 1 or n_speakers < 2:
        return float(grid[0]), {}
    k = min(4, n_speakers)
    folds = group_kfold(list(speakers), k, seed=0, stratify=y)
    labels = [str(i) for i in range(n_classes)]
    scores: dict[str, float] = {}
    for c in grid:
        uas = []
        for train, test in folds:
            if np.unique(y[train]).size < 2:
                continue
            coef, intercept = _fit_lr(x[train], y[train], c, n_classes)
            pred = np.argmax(x[test] @ coef.T + intercept, axis=1)
            uas.append(classification_report(y[test], pred, labels).ua)
        scores[repr(float(c))] = float(np.mean(uas)) if uas else float("nan")
    best = max(grid, key=lambda c: (np.nan_to_num(scores[repr(float(c))], nan=-1.0), -c))
    return float(best), scores


class WhisperSER:
    """Per-speaker z-normalised pooled Whisper states + class-balanced logistic regression.

    ``C``: a fixed inverse regularisation strength, or ``None`` to choose one of ``c_grid``
    by speaker-exclusive inner cross-validation on the training speakers (best UA).
    """

    def __init__(
        self,
        labels: Sequence[str] = ("neutral", "happy", "sad", "angry"),
        *,
        model: str | Path = "tiny.en",
        C: float | None = None,  # noqa: N803 (scikit-learn's name)
        c_grid: Sequence[float] = C_GRID,
        threads: int = 2,
        cache_dir: str | Path | bool | None = None,
        features: WhisperEncoderFeatures | None = None,
    ) -> None:
        self.labels = tuple(str(label) for label in labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be at least two distinct names, got {self.labels}")
        if C is not None and not C > 0:
            raise ValueError(f"C must be > 0, got {C}")
        if not c_grid or any(not c > 0 for c in c_grid):
            raise ValueError(f"c_grid must hold positive values, got {tuple(c_grid)}")
        self.model = str(model) if features is None else features.model
        self.C, self.c_grid = C, tuple(float(c) for c in c_grid)
        self.threads, self.cache_dir = threads, cache_dir
        self._features = features
        self.model_fingerprint: str | None = None
        self.normalizer: FeatureNormalizer | None = None
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.chosen_c: float | None = None
        self.metrics: dict[str, Any] = {}

    @property
    def features(self) -> WhisperEncoderFeatures:
        """The encoder (created on first use; checked against the saved fingerprint)."""
        if self._features is None:
            self._features = WhisperEncoderFeatures(
                self.model, self.threads, cache_dir=self.cache_dir
            )
        if self.model_fingerprint is not None and (
            self._features.fingerprint != self.model_fingerprint
        ):
            raise ValueError(
                f"the Whisper model in {self._features.folder} is not the one this classifier "
                f"was trained on (fingerprint {self._features.fingerprint[:16]} != "
                f"{self.model_fingerprint[:16]})"
            )
        return self._features

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
    ) -> WhisperSER:
        """Train on audio clips (paths, arrays with ``sampling_rate``, or :class:`Audio`)."""
        vectors = self.features.pooled_many(clips, sampling_rate)
        self.model_fingerprint = self.features.fingerprint
        return self.fit_vectors(vectors, labels, speakers)

    def fit_vectors(
        self, vectors: np.ndarray, labels: Sequence[str], speakers: Sequence[str]
    ) -> WhisperSER:
        """Train on pooled vectors ``(n, F)`` already computed."""
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"vectors must be a non-empty (n, features) array, got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("vectors hold NaN or infinite values")
        y = self._label_ids(labels)
        names = [str(s) for s in speakers]
        if len(names) != x.shape[0] or y.size != x.shape[0]:
            raise ValueError(
                f"{x.shape[0]} vectors, {y.size} labels and {len(names)} speakers differ"
            )
        self.normalizer = FeatureNormalizer.fit(list(x), "speaker", names)
        z = np.stack(self.normalizer.transform_many(list(x), names))
        if self.C is None:
            self.chosen_c, scores = _choose_c(z, y, names, self.c_grid, len(self.labels))
            self.metrics["inner_cv_ua"] = scores
        else:
            self.chosen_c = float(self.C)
        self.coef, self.intercept = _fit_lr(z, y, self.chosen_c, len(self.labels))
        self.metrics["train_speakers"] = len(set(names))
        self.metrics["train_clips"] = int(x.shape[0])
        return self

    # ---------------------------------------------------------------- prediction

    def _check_fitted(self) -> None:
        if self.coef is None or self.intercept is None or self.normalizer is None:
            raise RuntimeError("WhisperSER is not fitted: call fit() or from_pretrained()")

    def predict_proba_vectors(self, vectors: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """Class probabilities ``(n, K)`` of pooled vectors.

        Speakers without training statistics are normalised on their own vectors given here
        (their clips, labels unused), as the speaker-normalisation protocol does.
        """
        self._check_fitted()
        assert self.normalizer is not None and self.coef is not None
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.coef.shape[1]:
            raise ValueError(
                f"vectors must be (n, {self.coef.shape[1]}), got {x.shape} (another model?)"
            )
        names = [str(s) for s in speakers]
        if len(names) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} vectors but {len(names)} speakers")
        rows = list(x)
        normalizer = self.normalizer.covering(rows, names)
        z = np.stack(normalizer.transform_many(rows, names)).astype(np.float64)
        return _softmax(z @ self.coef.T.astype(np.float64) + self.intercept).astype(np.float32)

    def predict_proba(
        self,
        clips: Sequence[AudioLike],
        speakers: Sequence[str],
        *,
        sampling_rate: int | None = None,
    ) -> np.ndarray:
        """Class probabilities ``(n, K)`` of audio clips with their speakers."""
        self._check_fitted()
        return self.predict_proba_vectors(self.features.pooled_many(clips, sampling_rate), speakers)

    def predict(self, clips: Sequence[AudioLike], speakers: Sequence[str]) -> list[str]:
        """The most likely label of each clip."""
        proba = self.predict_proba(clips, speakers)
        return [self.labels[i] for i in np.argmax(proba, axis=1)]

    # ---------------------------------------------------------------- storage

    def config(self) -> dict[str, Any]:
        return {
            "kind": "whisper-ser",
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "C": self.chosen_c,
            "c_grid": list(self.c_grid),
            "normalizer_mode": "speaker",
            "pooling": "mean+std",
            "metrics": self.metrics,
        }

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``model.safetensors`` and ``config.json`` into ``folder``."""
        from safetensors.numpy import save_file

        from emorl.artifacts import write_json

        self._check_fitted()
        assert self.normalizer is not None and self.coef is not None
        assert self.intercept is not None
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            "lr.coef": np.ascontiguousarray(self.coef, dtype=np.float32),
            "lr.intercept": np.ascontiguousarray(self.intercept, dtype=np.float32),
            **self.normalizer.to_arrays(),
        }
        atomic_write(folder / WEIGHTS_NAME, lambda tmp: save_file(arrays, str(tmp)))
        write_json(folder / CONFIG_NAME, self.config())
        return folder

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        *,
        model: str | Path | None = None,
        threads: int = 2,
        cache_dir: str | Path | bool | None = None,
    ) -> WhisperSER:
        """Load a folder written by :meth:`save_pretrained`.

        ``model`` overrides where the Whisper model is found (a folder); its fingerprint must
        match the saved one when features are computed.
        """
        from safetensors.numpy import load_file

        folder = Path(folder)
        config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing (not a WhisperSER folder?)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("kind") != "whisper-ser":
            raise ValueError(
                f"{config_path}: not a WhisperSER config (kind={config.get('kind')!r})"
            )
        arrays = load_file(str(weights_path))
        ser = cls(
            config["labels"],
            model=model if model is not None else config["model"],
            C=config["C"],
            c_grid=config.get("c_grid", C_GRID),
            threads=threads,
            cache_dir=cache_dir,
        )
        ser.model_fingerprint = config.get("model_fingerprint")
        ser.chosen_c = config["C"]
        ser.metrics = dict(config.get("metrics", {}))
        ser.coef = np.asarray(arrays["lr.coef"], dtype=np.float32)
        ser.intercept = np.asarray(arrays["lr.intercept"], dtype=np.float32)
        ser.normalizer = FeatureNormalizer.from_arrays(arrays, "speaker")
        if ser.coef.shape[0] != len(ser.labels):
            raise ValueError(f"{weights_path}: {ser.coef.shape[0]} classes, config {ser.labels}")
        return ser


# ------------------------------------------------------------------ cross-validation


def crossval_whisper_ser(
    path: str | Path,
    model: str | Path = "tiny.en",
    folds: int = 5,
    seed: int = 0,
    *,
    corpus: str = "ravdess",
    speakers: Sequence[str] | None = RAVDESS_SPEAKERS,
    clips_per_label: int | None = None,
    C: float | None = None,  # noqa: N803
    threads: int = 2,
    cache_dir: str | Path | bool | None = None,
    out: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Speaker-exclusive ``folds``-fold CV of :class:`WhisperSER` (four classes).

    Folds are the project's stratified group-exclusive split
    (:func:`emorl.evaluation.group_kfold` with ``seed``, via
    :func:`emorl.evaluation.cross_validate`); ``C`` is chosen on each fold's training
    speakers only. ``speakers``: the speakers kept (RAVDESS actors 1-20 by default; ``None``
    keeps all); ``clips_per_label`` keeps each speaker's first clips of each label (for
    quick checks).
    Returns the summary (WA = accuracy and UA mean ± std with ``ddof=1``, confusion, per-fold
    scores and ``C``, timings); with ``out``, writes ``crossval.json`` and
    ``confusion_crossval.png`` there.
    """
    from emorl.data import load_corpus
    from emorl.evaluation import cross_validate, save_cv

    begun = time.perf_counter()
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
    features = WhisperEncoderFeatures(model, threads, cache_dir=cache_dir)
    feature_begun = time.perf_counter()
    vectors = features.pooled_many([u.audio_path for u in utterances])  # type: ignore[misc]
    feature_seconds = time.perf_counter() - feature_begun
    names = [str(u.speaker) for u in utterances]
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[u.label] for u in utterances], dtype=np.int64)
    fold_info: list[dict[str, Any]] = []

    def fit_predict(train: np.ndarray, test: np.ndarray, _seed: int) -> np.ndarray:
        ser = WhisperSER(labels, model=model, C=C, features=features)
        ser.fit_vectors(vectors[train], [labels[i] for i in y[train]], [names[i] for i in train])
        proba = ser.predict_proba_vectors(vectors[test], [names[i] for i in test])
        fold_info.append(
            {
                "test_speakers": sorted({names[i] for i in test}),
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
        seeds=(seed,),
        groups=names,
        split_seed=seed,
        progress=progress,
    )
    classify_seconds = time.perf_counter() - classify_begun
    for info, run in zip(fold_info, result.runs, strict=True):
        info.update(wa=run.report.accuracy, ua=run.report.ua)
    summary = result.summary()
    summary.update(
        wa=summary["accuracy"],
        corpus=corpus,
        model=features.model,
        model_folder=str(features.folder),
        model_fingerprint=features.fingerprint,
        d_model=int(vectors.shape[1] // 2),
        speakers=len(set(names)),
        clips=len(utterances),
        features="whisper encoder states (unpadded), mean+std pooled, speaker z-norm",
        classifier="LogisticRegression(class_weight='balanced'), C on training speakers",
        fold_details=fold_info,
        seed=seed,
        threads=threads,
        protocol={
            "folds": folds,
            "seeds": [seed],
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
        save_cv(result, summary, out, f"Whisper {features.model} SER, {folds}-fold speaker CV")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emorl.recognizers.whisper_ser",
        description="Speaker-exclusive CV of the Whisper-encoder SER on RAVDESS actors 1-20.",
    )
    parser.add_argument("--data", required=True, help="RAVDESS folder (Actor_01 ...)")
    parser.add_argument("--model", default="tiny.en", help="tiny.en, base or a CT2 folder")
    parser.add_argument("--out", required=True, help="folder for crossval.json and the PNG")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--C", type=float, default=None, help="fixed C (default: inner CV)")
    parser.add_argument("--no-cache", action="store_true", help="do not use the feature cache")
    args = parser.parse_args(argv)
    summary = crossval_whisper_ser(
        args.data,
        args.model,
        folds=args.folds,
        seed=args.seed,
        C=args.C,
        threads=args.threads,
        cache_dir=False if args.no_cache else None,
        out=args.out,
        progress=True,
    )
    wa, ua = summary["accuracy"], summary["ua"]
    print(
        f"Whisper {summary['model']}: WA {wa['mean']:.3f} ± {wa['std']:.3f}, "
        f"UA {ua['mean']:.3f} ± {ua['std']:.3f} ({summary['folds']} folds, "
        f"{summary['clips']} clips, {summary['seconds']:.1f} s) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
