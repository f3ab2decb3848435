"""What the environment hears: recognizers behind one small batched protocol.

Every recognizer maps a batch of :class:`Reply` objects to an ``(n, 4)`` array of
posteriors in :data:`~emorl.emotions.FOUR_CLASS` order. Adapters:

* :class:`TextRecognizer`: the shipped text emotion recognizer (or any object with
  ``probabilities(list[str]) -> (n, 4)``) on the reply text, batched, cached by text.
* :class:`OracleRecognizer`: the true emotion through a confusion matrix (debugging).
* :class:`BimodalRecognizer`: synthesised speech (and a provided, noisy or ASR
  transcript) through any object with ``predict(audio, transcript=None)``, e.g. IEmoNet.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.envs.shards import Key, PosteriorShards
from emorl.fingerprint import sha256_bytes, sha256_file, sha256_json


@dataclass(frozen=True)
class Reply:
    """One user reply as the recognizer may use it."""

    text: str
    emotion: str
    voice: int = 0
    noise_key: str = ""
    #: what the system said just before (for recognizers that read the previous turn)
    system_text: str = ""


@runtime_checkable
class EmotionRecognizer(Protocol):
    """``posteriors(replies) -> (n, 4)`` array, rows summing to one."""

    labels: tuple[str, ...]

    def posteriors(self, replies: Sequence[Reply]) -> np.ndarray: ...


class TextRecognizer:
    """Text emotion recognition on reply texts, batched, with a cache keyed by text.

    ``model`` is anything with ``probabilities(list[str]) -> (n, 4)``; by default the
    shipped :class:`~emorl.recognizers.text.model.TextEmotionRecognizer`, loaded on first use.
    """

    def __init__(
        self,
        model: Any = None,
        *,
        cache_size: int = 200_000,
        cache_path: str | Path | None = None,
        model_id: str | None = None,
    ) -> None:
        self._model = model
        self._model_id = model_id
        self.labels = FOUR_CLASS
        self.cache: dict[str, np.ndarray] = {}
        self.cache_size = cache_size
        self.hits = 0
        self.misses = 0
        self.cache_path = Path(cache_path) if cache_path is not None else None
        if self.cache_path is not None and self.cache_path.is_file():
            self.load_cache(self.cache_path)

    def model_id(self) -> str:
        """Identity of the model the cache belongs to: the shipped weights' SHA-256, or
        ``model_id`` / the class name of a model passed in."""
        if self._model_id is None:
            if self._model is None or _is_default(self._model):
                self._model_id = f"ter:{_file_digest(DEFAULT_TER_WEIGHTS)}"
            else:
                self._model_id = f"custom:{type(self._model).__name__}"
        return self._model_id

    def save_cache(self, path: str | Path | None = None) -> Path:
        """Write the posteriors cache as ``.npz`` (texts, posteriors, model id; no pickle)."""
        path = Path(path or self.cache_path or "")
        if not path.name:
            raise ValueError("no cache path given")
        texts = list(self.cache)
        probs = np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 4))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(
                handle, texts=np.array(texts, dtype=str), posteriors=probs, model=self.model_id()
            )
        return path

    def load_cache(self, path: str | Path) -> int:
        """Read a cache written by :meth:`save_cache` for the same model; entries read."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                model, texts, rows = str(data["model"]), data["texts"].tolist(), data["posteriors"]
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise ValueError(
                f"{path}: not a readable posteriors cache (.npz with texts, posteriors, model: "
                f"{type(err).__name__}); delete it or write one with `emorl env warm-cache`"
            ) from None
        if model != self.model_id():
            raise ValueError(f"{path}: posteriors cache belongs to another recognizer model")
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape != (len(texts), len(self.labels)) or not np.all(np.isfinite(rows)):
            raise ValueError(f"{path}: posteriors cache has malformed rows {rows.shape}")
        for text, row in zip(texts, rows, strict=True):
            self.cache[text] = row
        return len(texts)

    @property
    def model(self) -> Any:
        if self._model is None:
            from emorl.recognizers.text.model import TextEmotionRecognizer

            self._model = TextEmotionRecognizer.from_pretrained()
            if tuple(self._model.labels) != FOUR_CLASS:
                raise ValueError(f"text recognizer labels {self._model.labels} != {FOUR_CLASS}")
        return self._model

    def posteriors(self, replies: Sequence[Reply]) -> np.ndarray:
        texts = [reply.text for reply in replies]
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if missing:
            if len(self.cache) + len(missing) > self.cache_size:
                self.cache.clear()
            probs = np.asarray(self.model.probabilities(missing), dtype=np.float64)
            for text, row in zip(missing, probs, strict=True):
                self.cache[text] = row
        if not texts:
            return np.zeros((0, len(self.labels)))
        return np.stack([self.cache[t] for t in texts])


def confusion_matrix(confusion: float | Sequence[Sequence[float]]) -> np.ndarray:
    """A row-stochastic 4x4 matrix from a uniform confusion rate or an explicit matrix."""
    n = len(FOUR_CLASS)
    if isinstance(confusion, (int, float)):
        if not 0.0 <= confusion < 1.0:
            raise ValueError(f"oracle confusion must be in [0, 1), got {confusion}")
        return (1 - confusion) * np.eye(n) + confusion / n
    matrix = np.asarray(confusion, dtype=np.float64)
    if matrix.shape != (n, n) or np.any(matrix < 0) or not np.allclose(matrix.sum(1), 1.0):
        raise ValueError(f"oracle confusion must be a {n}x{n} row-stochastic matrix")
    return matrix


class OracleRecognizer:
    """The true emotion seen through ``confusion`` (row ``e`` is the posterior for ``e``)."""

    def __init__(self, confusion: float | Sequence[Sequence[float]] = 0.1) -> None:
        self.labels = FOUR_CLASS
        self.matrix = confusion_matrix(confusion)
        self._index = {label: i for i, label in enumerate(FOUR_CLASS)}

    def posteriors(self, replies: Sequence[Reply]) -> np.ndarray:
        return self.matrix[[self._index[r.emotion] for r in replies]].reshape(-1, len(self.labels))


TRANSCRIPTS = ("provided", "noisy", "asr")
#: What a simulated voice says, in each emotion, to fit its SER speaker statistics.
ENROLMENT_TEXTS = (
    "I am calling about my account.",
    "Could you check that for me, please?",
    "I have had this problem since last week.",
)


class BimodalRecognizer:
    """Speech + transcript through a bimodal model such as IEmoNet.

    ``model.predict(audio, transcript=None)`` gets 16 kHz mono float32 samples (and
    ``sampling_rate=16000`` when its ``predict`` takes that keyword) and a transcript
    (``None`` with ``transcripts="asr"``: the model transcribes). Its result
    must carry fused posteriors: a mapping or attribute ``fused`` / ``posteriors`` /
    ``probabilities`` (label -> probability, or an array in the model's label order).
    A model that also has ``probabilities(audio, texts, sampling_rate=...)`` (IEmoNet
    does) gets every uncached clip with a non-empty transcript in one batch.
    Posteriors are cached by (text, emotion, voice, transcript): the audio is a function
    of the first three. With ASR transcripts the key has no transcript, so a repeated
    reply reuses the first recognition. With ``cache_dir`` the cache is on disk as well
    (:class:`~emorl.envs.shards.PosteriorShards` under ``cache_dir/<model id>/``), shared
    by every process and trial that recognises with the same model, voice and settings;
    :meth:`model_id` names that identity (pass ``model_id`` for a model other than an
    IEmoNet or a voice without ``identity()``). In memory only, ``cache_size`` entries at
    most.

    Speaker enrolment (``enrol``, on by default): a model whose SER normalises per speaker
    (``model.ser`` with ``normalization="speaker"``, as the shipped IEmoNet's) gets each
    simulated caller's voice as a speaker. The first time a voice speaks, it says
    :data:`ENROLMENT_TEXTS` in each of the four emotions, and the SER's statistics for
    that voice are fitted on those clips, once: a voice's posteriors stay a function of
    what it says. Without enrolment the SER normalises the synthetic voices with its
    training set's statistics, which shifts nearly every reply to one class.
    """

    def __init__(
        self,
        model: Any,
        voice: Any = None,
        *,
        transcripts: str = "noisy",
        wer: float = 0.06,
        cache_size: int = 50_000,
        enrol: bool = True,
        cache_dir: str | Path | None = None,
        model_id: str | None = None,
    ) -> None:
        if transcripts not in TRANSCRIPTS:
            raise ValueError(f"transcripts must be one of {TRANSCRIPTS}, got {transcripts!r}")
        if not callable(getattr(model, "predict", None)):
            raise TypeError("bimodal model needs predict(audio, transcript=None)")
        self.model = model
        if voice is None:
            from emorl.envs.tts import SpeechSynthesiser

            voice = SpeechSynthesiser()
        self.voice = voice
        self.transcripts = transcripts
        self.labels = FOUR_CLASS
        self.wer = float(wer)
        self._model_id = model_id
        self.cache: dict[Key, np.ndarray] | PosteriorShards = {}
        self.cache_size = cache_size
        self.hits = self.misses = 0
        self._extra: dict[str, Any] = (
            {"sampling_rate": 16_000} if _takes(model.predict, ("sampling_rate",)) else {}
        )
        self._batch = _takes(getattr(model, "probabilities", None), ("audio", "texts"))
        ser = getattr(model, "ser", None)
        self.enrol = bool(
            enrol
            and getattr(getattr(ser, "config", None), "normalization", None) == "speaker"
            and callable(getattr(ser, "adapt_speaker", None))
            and _takes(model.predict, ("speaker",))
            and (not self._batch or _takes(model.probabilities, ("speakers",)))
        )
        self.enrolled: set[str] = set()
        #: what the model transcribed, by cache key (``transcripts="asr"``)
        self.heard: dict[Key, str] = {}
        self._noise = None
        if transcripts == "noisy":
            from emorl.asr.noise import TranscriptNoise

            self._noise = TranscriptNoise(wer)
        if cache_dir is not None:
            if transcripts == "asr":
                raise ValueError(
                    "cache_dir: posteriors are cached on disk with provided or noisy "
                    "transcripts only (with 'asr' the environment also needs each transcript)"
                )
            self.cache = PosteriorShards(cache_dir, self.model_id())

    def model_id(self) -> str:
        """The identity the posteriors are a function of: the IEmoNet's three weight sets,
        the voice's :meth:`identity`, the transcripts setting and the enrolment."""
        if self._model_id is None:
            identity = getattr(self.voice, "identity", None)
            weights = _iemonet_weights(self.model)
            if weights is None or not callable(identity):
                raise ValueError(
                    "a bimodal posteriors cache on disk needs model_id= for this model or voice "
                    "(derived only for an IEmoNet with a voice that has identity())"
                )
            settings = (weights, identity(), self.transcripts, self.wer, self.enrol)
            self._model_id = "bimodal-" + sha256_json([settings, ENROLMENT_TEXTS])[:20]
        return self._model_id

    def flush(self) -> None:
        """Write the new posteriors to the disk cache (no-op in memory only)."""
        if isinstance(self.cache, PosteriorShards):
            self.cache.flush()

    def transcript(self, reply: Reply) -> str | None:
        if self.transcripts == "provided":
            return reply.text
        if self.transcripts == "noisy":
            assert self._noise is not None
            return self._noise(reply.text, key=reply.noise_key or reply.text)
        return None

    def transcript_of(self, reply: Reply) -> str | None:
        """What the model transcribed of ``reply`` (ASR mode, after :meth:`posteriors`)."""
        return self.heard.get((reply.text, reply.emotion, reply.voice, self.transcript(reply)))

    def _speak(self, items: list[tuple[str, str, int]]) -> list[np.ndarray]:
        """Samples of (text, emotion, voice) items, in one batch when the voice can."""
        many = getattr(self.voice, "synthesise_many", None)
        return many(items) if many is not None else [self.voice.synthesise(*i) for i in items]

    def speaker(self, voice: int) -> str | None:
        """The SER speaker name of a simulated voice, enrolled on first use (None: off)."""
        if not self.enrol:
            return None
        name = f"emorl-voice-{int(voice)}"
        if name not in self.enrolled:
            items = [(text, e, int(voice)) for text in ENROLMENT_TEXTS for e in FOUR_CLASS]
            self.model.ser.adapt_speaker(name, self._speak(items), sampling_rate=16_000)
            self.enrolled.add(name)
        return name

    def posteriors(self, replies: Sequence[Reply]) -> np.ndarray:
        transcripts = [self.transcript(r) for r in replies]
        keys = [(r.text, r.emotion, r.voice, t) for r, t in zip(replies, transcripts, strict=True)]
        todo = [i for i, key in enumerate(keys) if key not in self.cache]
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        audios = self._speak(
            [(replies[i].text, replies[i].emotion, replies[i].voice) for i in todo]
        )
        labels = getattr(self.model, "labels", FOUR_CLASS)
        audio_of = dict(zip(todo, audios, strict=True))
        batched = [i for i in todo if self._batch and (transcripts[i] or "").strip()]
        results: dict[int, Any] = {}
        speakers = {i: self.speaker(replies[i].voice) for i in todo}
        if batched:
            extra = dict(self._extra)
            if self.enrol:
                extra["speakers"] = [speakers[i] for i in batched]
            rows = self.model.probabilities(
                [audio_of[i] for i in batched], [transcripts[i] for i in batched], **extra
            )
            results = {i: {"fused": row} for i, row in zip(batched, rows, strict=True)}
        for i in todo:
            if i not in results:
                extra = dict(self._extra, speaker=speakers[i]) if self.enrol else self._extra
                results[i] = self.model.predict(audio_of[i], transcript=transcripts[i], **extra)
            if isinstance(self.cache, dict) and len(self.cache) >= self.cache_size:
                self.cache.clear()
                self.heard.clear()
            self.cache[keys[i]] = fused_posteriors(results[i], labels)
            heard = _field(results[i], "transcript")
            if isinstance(heard, str):
                self.heard[keys[i]] = heard
        if not keys:
            return np.zeros((0, len(self.labels)))
        return np.stack([self.cache[key] for key in keys])


def _iemonet_weights(model: Any) -> list[str] | None:
    """SHA-256 of an IEmoNet's TER, SER and fusion weights (None: not an IEmoNet)."""
    parts = getattr(model, "parts", None) or {}
    net = getattr(getattr(model, "fusion", None), "net", None)
    if not {"ter", "ser"} <= set(parts) or net is None:
        return None
    from emorl.artifacts import WEIGHTS_NAME

    tensors = [t.detach().cpu().numpy().tobytes() for t in net.state_dict().values()]
    fusion = sha256_bytes(*tensors, repr(model.fusion.temperature).encode())
    return [_file_digest(Path(parts[what]) / WEIGHTS_NAME) for what in ("ter", "ser")] + [fusion]


def _file_digest(path: Path) -> str:
    """SHA-256 of a file ("?" if absent), hashed once per version of the file."""
    if not path.is_file():
        return "?"
    stat = path.stat()
    return _digest_of(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _digest_of(path: Path, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def _takes(function: Any, names: Sequence[str]) -> bool:
    """Whether ``function`` is callable with parameters of these names."""
    if not callable(function):
        return False
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return all(name in parameters for name in names)


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)


def fused_posteriors(result: Any, labels: Sequence[str] = FOUR_CLASS) -> np.ndarray:
    """The fused posteriors of a bimodal prediction, in :data:`FOUR_CLASS` order."""
    for name in ("fused", "posteriors", "probabilities"):
        value = result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
        if value is None:
            continue
        if isinstance(value, Mapping):
            row = np.array([float(value[label]) for label in FOUR_CLASS])
        else:
            array = np.asarray(value, dtype=np.float64).reshape(-1)
            order = {label: i for i, label in enumerate(labels)}
            row = array[[order[label] for label in FOUR_CLASS]]
        total = row.sum()
        if not np.isfinite(total) or total <= 0:
            raise ValueError("bimodal model returned posteriors that do not sum to a positive")
        return row / total
    raise TypeError("bimodal prediction carries no 'fused', 'posteriors' or 'probabilities'")


DEFAULT_TER_WEIGHTS = (
    Path(__file__).resolve().parents[1] / "models" / "ter-dialogue-4class" / "model.safetensors"
)


def _is_default(model: Any) -> bool:
    return type(model).__name__ == "TextEmotionRecognizer"


_SHARED: dict[tuple[Any, ...], EmotionRecognizer] = {}


def shared_text_recognizer(cache_path: str | Path | None = None) -> TextRecognizer:
    """One text recognizer (model and cache) per cache file for every environment.

    Without a cache file it starts from the shipped posteriors of every reply of the
    shipped bank (:func:`emorl.envs.cache.preload_shipped`): the model is loaded only for
    a text they do not cover.
    """
    key = ("text", str(cache_path))
    if key not in _SHARED:
        recognizer = TextRecognizer(cache_path=cache_path)
        if cache_path is None:
            from emorl.envs.cache import preload_shipped

            preload_shipped(recognizer)
        _SHARED[key] = recognizer
    return _SHARED[key]  # type: ignore[return-value]
