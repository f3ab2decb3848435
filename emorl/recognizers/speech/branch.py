"""IEmoNet's speech branch behind one interface: the IS09 SER (the paper's) or the Whisper SER.

:func:`speech_branch` wraps a trained SER so that :class:`emorl.recognizers.iemonet.IEmoNet`
calls either the same way:

* :class:`IS09Branch`: openSMILE IS09 frames -> TDNN-BiLSTM-attention
  (:class:`emorl.recognizers.speech.model.SpeechEmotionRecognizer`, the paper's branch);
* :class:`WhisperBranch`: Whisper encoder states -> head
  (:class:`emorl.recognizers.speech.whisper.WhisperSER`). A ``padded`` Whisper SER whose
  Whisper model is the ASR's reads the states of the ASR's own encoder pass
  (:meth:`emorl.asr.WhisperTranscriber.transcribe_with_states`): one pass serves both, and
  the SER adds only its head. Otherwise it computes its states itself, on the ASR's loaded
  encoder when the model is the same (no second copy in memory).

Each branch returns, per clip, the penultimate features a fusion block reads, the branch's
own posteriors, optionally per-frame states, and its timings (``features``, ``ser``).
:func:`load_ser` loads either kind of SER folder by its ``config.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BranchOutput",
    "IS09Branch",
    "WhisperBranch",
    "load_ser",
    "resolve_ser_folder",
    "speech_branch",
]

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass
class BranchOutput:
    """One batch through the speech branch: features ``(n, F)``, posteriors ``(n, K)``."""

    features: np.ndarray
    probs: np.ndarray
    states: list[np.ndarray] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: what the normaliser read of the (one) clip: a speaker history entry
    input: np.ndarray | None = None


def resolve_ser_folder(ser: str | Path | None) -> Path:
    """A SER folder: a path, or the name of a shipped model under ``emorl/models``."""
    if ser is None:
        from emorl.recognizers.speech.model import DEFAULT_SER_DIR

        return DEFAULT_SER_DIR
    path = Path(ser).expanduser()
    if (path / "config.json").is_file():
        return path
    shipped = MODELS_DIR / str(ser)
    if (shipped / "config.json").is_file():
        return shipped
    from emorl.artifacts import ModelFolderError

    names = sorted(p.name for p in MODELS_DIR.glob("ser-*") if (p / "config.json").is_file())
    raise ModelFolderError(
        f"SER model {str(ser)!r} not found: not a model folder, nor a shipped SER "
        f"({', '.join(names)})"
    )


def load_ser(folder: str | Path | None) -> Any:
    """The SER in ``folder`` (a path or shipped name): IS09 network or Whisper SER."""
    from emorl.artifacts import ModelFolderError

    path = resolve_ser_folder(folder)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{path / 'config.json'}: not valid JSON ({err})") from err
    kind = config.get("type", config.get("kind"))
    if kind == "whisper-ser":
        from emorl.recognizers.speech.whisper import WhisperSER

        return WhisperSER.from_pretrained(path)
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer

    return SpeechEmotionRecognizer.from_pretrained(path)


def speech_branch(ser: Any) -> IS09Branch | WhisperBranch:
    """The branch adapter of a loaded SER (either kind)."""
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.speech.whisper import WhisperSER

    if isinstance(ser, WhisperSER):
        return WhisperBranch(ser)
    if isinstance(ser, SpeechEmotionRecognizer):
        return IS09Branch(ser)
    raise TypeError(
        f"the SER must be a SpeechEmotionRecognizer or a WhisperSER, got {type(ser).__name__}"
    )


class IS09Branch:
    """The paper's branch: IS09 frames -> TDNN -> BiLSTM x2 -> attention."""

    kind = "is09"

    def __init__(self, ser: Any) -> None:
        self.ser = ser

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.ser.labels)

    @property
    def feature_size(self) -> int:
        return int(self.ser.net.config.feature_size)

    def shares_pass(self, asr: Any) -> bool:
        """The IS09 branch never reads Whisper's encoder pass."""
        del asr
        return False

    def prepare(self, clip: Any) -> Any:
        return clip

    def clip_outputs(
        self,
        clip: Any,
        speaker: str | None,
        *,
        states: bool,
        encoded: Any = None,
        history: Sequence[np.ndarray] | None = None,
    ) -> BranchOutput:
        """Features, posteriors (and frame outputs) of one loaded clip.

        ``history``: ``speaker``'s earlier IS09 frame arrays; their statistics and this
        clip's are stored for ``speaker`` first (``adapt_speaker``).
        """
        import torch

        from emorl.recognizers.fusion.features import speech_outputs
        from emorl.recognizers.fusion.model import softmax
        from emorl.recognizers.threads import torch_threads

        del encoded
        t0 = time.perf_counter()
        frames = self.ser.extractor.frames(clip.samples, clip.sampling_rate)
        t1 = time.perf_counter()
        timings = {"features": t1 - t0}
        if history is not None and speaker is not None:
            self.ser.adapt_speaker(speaker, [*history, frames], frames=True)
            timings["adapt"] = time.perf_counter() - t1
            t1 = time.perf_counter()
        with torch_threads(1), torch.inference_mode():  # see emorl.recognizers.threads
            feats, per_frame = speech_outputs(
                self.ser, [frames], [speaker], states=states, adapt=False
            )
            logits = self.ser.net.classifier(torch.from_numpy(feats))
        probs = softmax(logits.numpy())
        timings["ser"] = time.perf_counter() - t1
        return BranchOutput(feats, probs, per_frame, timings, frames)

    def batch_outputs(
        self,
        audio: Sequence[Any],
        speakers: Sequence[str | None],
        *,
        sampling_rate: int | None = None,
        states: bool = False,
        batch_size: int = 32,
    ) -> BranchOutput:
        """Features and posteriors of a batch of clips (unknown speakers: global stats)."""
        import torch

        from emorl.recognizers.fusion.features import speech_outputs
        from emorl.recognizers.fusion.model import softmax

        frames = [self.ser.frames(a, sampling_rate) for a in audio]
        feats, per_frame = speech_outputs(
            self.ser, frames, list(speakers), states=states, adapt=False, batch_size=batch_size
        )
        with torch.inference_mode():
            logits = self.ser.net.classifier(torch.from_numpy(feats))
        return BranchOutput(feats, softmax(logits.numpy()), per_frame)

    def adapt_speaker(self, speaker: str, clips: Sequence[Any]) -> None:
        self.ser.adapt_speaker(speaker, clips)


class WhisperBranch:
    """Whisper encoder states -> the Whisper SER's head (shares the ASR's pass if it can)."""

    kind = "whisper"

    def __init__(self, ser: Any) -> None:
        self.ser = ser
        self._attached: Any = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.ser.labels)

    @property
    def feature_size(self) -> int:
        return int(self.ser.feature_size)

    def same_model(self, asr: Any) -> bool:
        """Whether ``asr`` is a Whisper transcriber of this SER's Whisper model (fingerprint)."""
        from emorl.asr.whisper import WhisperTranscriber
        from emorl.recognizers.speech.whisper import _folder_fingerprint

        if not isinstance(asr, WhisperTranscriber) or asr.config.device != "cpu":
            return False
        fingerprint = _folder_fingerprint(str(asr.model_dir), asr.config.compute_type)
        return fingerprint == self.ser.model_fingerprint

    def shares_pass(self, asr: Any) -> bool:
        """One encoder pass can serve ``asr`` and this SER: padded states, same model."""
        return self.ser.spec.mode == "padded" and self.same_model(asr)

    def attach(self, asr: Any) -> None:
        """Compute this SER's own states on ``asr``'s loaded encoder (same model only)."""
        if asr is None or asr is self._attached or not self.same_model(asr):
            return
        model = asr.load()._model
        self.ser.features.use_encoder(model.model, model.feature_extractor)
        self._attached = asr

    def prepare(self, clip: Any) -> Any:
        """The clip as the SER's encoder must hear it (loudness-normalised), an ``Audio``."""
        loudness = self.ser.spec.loudness_db
        if loudness is None:
            return clip
        samples = self.ser.features.prepare(clip.samples)
        samples.flags.writeable = False
        note = f"loudness normalised to {float(loudness):g} dB (Whisper SER)"
        return replace(clip, samples=samples, notes=(*clip.notes, note))

    def clip_outputs(
        self,
        clip: Any,
        speaker: str | None,
        *,
        states: bool,
        encoded: Any = None,
        history: Sequence[np.ndarray] | None = None,
    ) -> BranchOutput:
        """Features, posteriors (and frame states) of one clip.

        ``encoded``: the ASR's encoder pass over ``prepare(clip)`` (shared pass); without
        it the states are computed here. ``history``: ``speaker``'s earlier head inputs;
        their statistics and this clip's are stored for ``speaker`` first.
        """
        t0 = time.perf_counter()
        if encoded is not None:
            clip_states = self.ser.states_from_encoded(encoded)
        else:
            features = self.ser.features
            clip_states = features.encode(features.prepare(clip.samples), clip.source)
        t1 = time.perf_counter()
        timings = {"features": t1 - t0}
        head_input = self.ser.head.represent(clip_states)
        if history is not None and speaker is not None:
            inputs = [*history, head_input]
            self.ser.normalizer = self.ser.speaker_normalizer(inputs, [speaker] * len(inputs))
            timings["adapt"] = time.perf_counter() - t1
            t1 = time.perf_counter()
        feats, probs, frames = self.ser.outputs(
            [clip_states], [speaker], adapt=False, frame_states=states
        )
        timings["ser"] = time.perf_counter() - t1
        return BranchOutput(feats, probs, frames, timings, head_input)

    def batch_outputs(
        self,
        audio: Sequence[Any],
        speakers: Sequence[str | None],
        *,
        sampling_rate: int | None = None,
        states: bool = False,
        batch_size: int = 32,
    ) -> BranchOutput:
        """Features and posteriors of a batch of clips (unknown speakers: global stats)."""
        del batch_size
        clip_states = self.ser.features.states_many(list(audio), sampling_rate)
        feats, probs, frames = self.ser.outputs(
            clip_states, list(speakers), adapt=False, frame_states=states
        )
        return BranchOutput(feats, probs, frames)

    def adapt_speaker(self, speaker: str, clips: Sequence[Any]) -> None:
        self.ser.adapt_speaker(speaker, clips)
