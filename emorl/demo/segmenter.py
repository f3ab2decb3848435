"""Streaming utterance segmentation with the Silero VAD model shipped inside faster-whisper.

:class:`StreamingVAD` scores each 32 ms frame (512 samples at 16 kHz) exactly as
faster-whisper's batch VAD does (64 samples of the previous frame as context, the
recurrent state carried from frame to frame): a stream and a whole file get the same
speech probabilities.
:class:`UtteranceSegmenter` turns the probabilities into utterances with the hysteresis
of ``faster_whisper.vad.get_speech_timestamps``: speech starts at ``threshold``, a frame
below ``threshold - 0.15`` counts as silence, and ``min_silence_ms`` of silence ends the
utterance (the endpointing delay). Utterances are padded by ``pad_ms`` on both sides,
dropped when shorter than ``min_speech_ms`` and cut at ``max_utterance_s``.

Speculation: once ``speculate_ms`` of silence follow the speech (at least ``pad_ms``, so
the clip is already complete), the open utterance is also given out as a *tentative*
segment (``final=False``) with exactly the samples its final segment will have if the
silence holds. A caller can start recognising it while the endpointing silence runs;
if speech resumes, the tentative segment is simply superseded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

SAMPLING_RATE = 16_000
FRAME = 512
CONTEXT = 64


@dataclass(frozen=True)
class SegmenterConfig:
    """Endpointing settings (milliseconds unless named otherwise)."""

    threshold: float = 0.5
    min_silence_ms: int = 500
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_s: float = 20.0
    speculate_ms: int | None = 256  # None: no tentative segments

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"VAD threshold must be in (0, 1), got {self.threshold}")
        if min(self.min_silence_ms, self.min_speech_ms, self.pad_ms) < 0:
            raise ValueError("segmenter durations must be >= 0")
        if self.speculate_ms is not None and self.speculate_ms < self.pad_ms:
            raise ValueError(
                f"speculate_ms ({self.speculate_ms}) must be at least pad_ms ({self.pad_ms}): "
                "a tentative clip must already hold its trailing padding"
            )
        if self.max_utterance_s <= 1.0:
            raise ValueError(f"max_utterance_s must be above 1 s, got {self.max_utterance_s}")


@dataclass(frozen=True)
class SpeechSegment:
    """One utterance: samples (16 kHz mono, padded) and where it lies in the stream.

    ``speech_start``/``speech_end`` bound the detected speech (seconds from the stream's
    start, without padding); ``detected`` is the stream time at which the end was decided
    (``speech_end`` plus the endpointing silence); ``index`` counts utterances from 0.
    ``final`` is False for a tentative segment (see the module docstring).
    """

    index: int
    samples: np.ndarray = field(repr=False)
    speech_start: float
    speech_end: float
    detected: float
    forced: bool = False
    final: bool = True

    def same_speech(self, other: SpeechSegment) -> bool:
        """Whether ``other`` covers the same speech with the same samples."""
        return (
            self.index == other.index
            and self.speech_start == other.speech_start
            and self.speech_end == other.speech_end
            and np.array_equal(self.samples, other.samples)
        )

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLING_RATE


class StreamingVAD:
    """Speech probability of each 512-sample frame (Silero VAD v6 via onnxruntime)."""

    def __init__(self) -> None:
        try:
            from faster_whisper.vad import get_vad_model
        except ImportError as err:  # pragma: no cover - faster-whisper is a dependency
            raise ImportError(
                "the demo's VAD needs faster-whisper: pip install faster-whisper"
            ) from err
        self._session = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (context and recurrent state)."""
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        """Probability that ``frame`` (512 float32 samples) holds speech."""
        window = np.concatenate([self._context, frame]).astype(np.float32)[None, :]
        out, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = np.asarray(frame[-CONTEXT:], dtype=np.float32)
        return float(np.asarray(out).reshape(-1)[0])


class UtteranceSegmenter:
    """Feed blocks of any size with :meth:`push`; complete utterances come out.

    ``vad`` maps a 512-sample frame to a speech probability (the Silero model by default).
    """

    def __init__(
        self,
        config: SegmenterConfig | None = None,
        vad: Callable[[np.ndarray], float] | None = None,
    ) -> None:
        self.config = config or SegmenterConfig()
        self.vad = vad if vad is not None else StreamingVAD()
        c = self.config
        self._neg = max(c.threshold - 0.15, 0.01)
        self._silence_frames = max(1, round(c.min_silence_ms * SAMPLING_RATE / 1000 / FRAME))
        self._speculate_frames = (
            None
            if c.speculate_ms is None
            else max(1, -(-c.speculate_ms * SAMPLING_RATE // 1000 // FRAME))
        )
        self._min_speech = c.min_speech_ms * SAMPLING_RATE // 1000
        self._pad = c.pad_ms * SAMPLING_RATE // 1000
        self._max = int(c.max_utterance_s * SAMPLING_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._history: deque[np.ndarray] = deque(maxlen=max(1, -(-self._pad // FRAME)) + 1)
        self._frames: list[np.ndarray] = []
        self._position = 0  # samples consumed (frame-aligned)
        self._start: int | None = None  # first speech sample of the open utterance
        self._last_speech = 0  # end of the last speech frame
        self._silent = 0
        self._tail = 0  # padding frames still wanted after an ended utterance
        self.count = 0
        self.probabilities: list[float] = []

    @property
    def in_speech(self) -> bool:
        return self._start is not None

    def push(self, block: np.ndarray) -> Iterator[SpeechSegment]:
        """Consume a block of 16 kHz mono float32 samples; yield finished utterances (and
        tentative ones, ``final=False``, when speculation is on)."""
        self._pending = np.concatenate([self._pending, np.asarray(block, np.float32).ravel()])
        whole = len(self._pending) // FRAME * FRAME
        frames, self._pending = self._pending[:whole], self._pending[whole:]
        for i in range(0, whole, FRAME):
            segment = self._step(frames[i : i + FRAME])
            if segment is not None:
                yield segment

    def flush(self) -> Iterator[SpeechSegment]:
        """End of stream: the open utterance, if any, ends here."""
        if self._start is not None:
            segment = self._close(self._position, forced=False)
            if segment is not None:
                yield segment

    def _step(self, frame: np.ndarray) -> SpeechSegment | None:
        p = self.vad(frame)
        self.probabilities.append(p)
        begin = self._position
        self._position += FRAME
        if self._start is None:
            self._history.append(frame)
            if p >= self.config.threshold:
                self._start, self._last_speech, self._silent = begin, self._position, 0
                self._frames = list(self._history)
            return None
        self._frames.append(frame)
        if p >= self.config.threshold or (p >= self._neg and self._silent == 0):
            self._last_speech, self._silent = self._position, 0
        else:
            self._silent += 1
        if self._silent >= self._silence_frames:
            return self._close(self._last_speech, forced=False)
        if self._silent == self._speculate_frames:
            return self._segment(self._last_speech, forced=False, final=False)
        if self._position - self._start >= self._max:
            return self._close(self._position, forced=True)
        return None

    def _close(self, speech_end: int, *, forced: bool) -> SpeechSegment | None:
        segment = self._segment(speech_end, forced=forced, final=True)
        self._start, self._frames, self._silent = None, [], 0
        self._history.clear()
        if segment is not None:
            self.count += 1
        return segment

    def _segment(self, speech_end: int, *, forced: bool, final: bool) -> SpeechSegment | None:
        """The open utterance up to ``speech_end`` (None if too short); state unchanged."""
        assert self._start is not None
        start = self._start
        if speech_end - start < self._min_speech:
            return None
        samples = np.concatenate(self._frames) if self._frames else np.zeros(0, np.float32)
        first = self._position - len(samples)  # stream index of samples[0]
        lo = max(start - self._pad, first) - first
        hi = min(speech_end + self._pad, self._position) - first
        clip = np.ascontiguousarray(samples[lo:hi])
        clip.setflags(write=False)
        return SpeechSegment(
            index=self.count,
            samples=clip,
            speech_start=start / SAMPLING_RATE,
            speech_end=speech_end / SAMPLING_RATE,
            detected=self._position / SAMPLING_RATE,
            forced=forced,
            final=final,
        )
