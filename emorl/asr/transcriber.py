"""What every speech recognizer returns, and the interface it offers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from emorl.audio import Audio

__all__ = ["AudioInput", "Transcriber", "Transcript", "Word"]

#: A file path, a numpy array (with ``sampling_rate``) or audio already loaded by emorl.audio.
AudioInput = str | Path | np.ndarray | Audio


@dataclass(frozen=True)
class Word:
    """One recognised word: its text as written, start and end in seconds, confidence in [0, 1]."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    """A recognition result.

    ``duration`` is the audio's length in seconds; ``processing_seconds`` the wall time of the
    whole call (reading the audio, checks, decoding); ``rtf`` their ratio (below 1 is faster
    than real time). ``notes`` say what was done to the audio (resampled, silent...).
    ``model`` names the recognizer and its settings.
    """

    text: str
    words: tuple[Word, ...]
    duration: float
    processing_seconds: float
    source: str
    model: str
    language: str = "en"
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio duration."""
        return self.processing_seconds / self.duration if self.duration > 0 else float("inf")

    @property
    def confidence(self) -> float | None:
        """Mean word probability; ``None`` without words."""
        if not self.words:
            return None
        return float(np.mean([w.probability for w in self.words]))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (words as lists of dicts), plus ``rtf`` and ``confidence``."""
        data = asdict(self)
        data["words"] = [asdict(w) for w in self.words]
        data["notes"] = list(self.notes)
        data["extra"] = dict(self.extra)
        data["rtf"] = self.rtf
        data["confidence"] = self.confidence
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict` (derived fields are ignored)."""
        return cls(
            text=str(data["text"]),
            words=tuple(Word(**w) for w in data["words"]),
            duration=float(data["duration"]),
            processing_seconds=float(data["processing_seconds"]),
            source=str(data["source"]),
            model=str(data["model"]),
            language=str(data.get("language", "en")),
            notes=tuple(data.get("notes", ())),
            extra=dict(data.get("extra", {})),
        )


@runtime_checkable
class Transcriber(Protocol):
    """A speech recognizer: audio in, :class:`Transcript` out.

    ``name`` identifies the model and every setting that changes its output; caches key on it
    together with :meth:`fingerprint`, a digest of the model's files.
    """

    name: str

    def transcribe(self, audio: AudioInput, *, sampling_rate: int | None = None) -> Transcript:
        """Recognise one clip; ``sampling_rate`` is required for an array."""
        ...

    def fingerprint(self) -> str:
        """A hex digest that changes whenever the model or its settings change."""
        ...
