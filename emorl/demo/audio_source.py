"""Where the demo's audio comes from: a microphone or a file, through one callback.

Both sources call ``callback(indata, frames, time_info, status)`` with ``indata`` of shape
``(frames, 1)`` float32 at 16 kHz, the signature of a ``sounddevice.InputStream``
callback, and :class:`BlockQueue` is that callback: the session reads the same queue
whichever source feeds it. ``sounddevice`` (and so PortAudio) is imported only by
:class:`MicrophoneSource`; a file never needs it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from emorl.audio import TARGET_SR, AudioPolicy, load_audio

BLOCK_SECONDS = 0.1
#: Files may be long and hold silence; other checks as everywhere (emorl.audio).
FILE_POLICY = AudioPolicy(min_seconds=0.1, max_seconds=None, silence="warn")


class NoInputDeviceError(RuntimeError):
    """No microphone to capture from; the message lists the devices found."""


@dataclass(frozen=True)
class Block:
    """A block of samples, its position in the stream and when it arrived (wall clock)."""

    samples: np.ndarray
    start: int
    arrived: float


class BlockQueue:
    """The capture callback and the queue behind it (``None`` marks the end of the stream)."""

    def __init__(self, maxsize: int = 0) -> None:
        self._queue: queue.Queue[Block | None] = queue.Queue(maxsize)
        self._position = 0
        self.overflows = 0
        self.muted = False

    def __call__(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status:
            self.overflows += 1
        samples = np.array(indata[:frames, 0], dtype=np.float32)
        if self.muted:
            samples[:] = 0.0  # the agent is speaking: it must not hear itself
        self._queue.put(Block(samples, self._position, time.perf_counter()))
        self._position += frames

    def close(self) -> None:
        self._queue.put(None)

    def blocks(self, poll: float = 0.1) -> Iterator[Block]:
        """Blocks in order until the stream ends (polls so Ctrl-C is seen promptly)."""
        while True:
            try:
                block = self._queue.get(timeout=poll)
            except queue.Empty:
                continue
            if block is None:
                return
            yield block


class AudioSource(Protocol):
    """Feeds a :class:`BlockQueue` between :meth:`start` and :meth:`stop`."""

    description: str
    #: whether sound the demo plays can reach this source (a microphone can hear it)
    hears_playback: bool

    def start(self, sink: BlockQueue) -> None: ...

    def stop(self) -> None: ...


class FileSource:
    """A file streamed in blocks, at real-time pace or (``fast``) as fast as it is read.

    The file goes through :func:`emorl.audio.load_audio` (any rate or channel count becomes
    16 kHz mono, bad files raise naming the file).
    """

    hears_playback = False

    def __init__(
        self,
        path: str | Path,
        *,
        fast: bool = False,
        block_seconds: float = BLOCK_SECONDS,
        trailing_silence: float = 1.0,
    ) -> None:
        clip = load_audio(Path(path), policy=FILE_POLICY)
        self.audio = clip
        self.fast = fast
        self.block = max(1, int(block_seconds * TARGET_SR))
        tail = np.zeros(int(trailing_silence * TARGET_SR), dtype=np.float32)
        self._samples = np.concatenate([clip.samples, tail])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        notes = f" ({', '.join(clip.notes)})" if clip.notes else ""
        pace = "as fast as possible" if fast else "real time"
        self.description = f"file {path} ({clip.duration:.1f} s, {pace}){notes}"

    def start(self, sink: BlockQueue) -> None:
        self._thread = threading.Thread(target=self._run, args=(sink,), daemon=True)
        self._thread.start()

    def _run(self, sink: BlockQueue) -> None:
        begun = time.perf_counter()
        n = len(self._samples)
        for start in range(0, n, self.block):
            if self._stop.is_set():
                break
            chunk = self._samples[start : start + self.block, None]
            if not self.fast:
                due = begun + (start + len(chunk)) / TARGET_SR
                time.sleep(max(0.0, due - time.perf_counter()))
            sink(chunk, len(chunk), None, None)
        sink.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as err:  # the module is there, the PortAudio library is not
        raise NoInputDeviceError(
            f"cannot load PortAudio ({err}): install it (Debian: apt-get install libportaudio2) "
            "or stream a recording with --input-file FILE.wav"
        ) from err
    except ImportError as err:
        raise ImportError(
            "microphone capture needs sounddevice: pip install sounddevice "
            "(or stream a recording with --input-file FILE.wav)"
        ) from err
    return sounddevice


def describe_devices(devices: Any) -> str:
    """One line per device that ``sounddevice.query_devices()`` found."""
    rows = [
        f"  [{i}] {d['name']} (in {d['max_input_channels']}, out {d['max_output_channels']})"
        for i, d in enumerate(devices)
    ]
    return "\n".join(rows) if rows else "  (none)"


def input_devices(sd: Any) -> list[dict[str, Any]]:
    """Devices with at least one input channel."""
    return [dict(d) for d in sd.query_devices() if d["max_input_channels"] > 0]


def no_device_message(devices: Any, wanted: str | int | None) -> str:
    which = "no audio input device" if wanted is None else f"no input device {wanted!r}"
    return (
        f"{which} found. Devices found:\n{describe_devices(devices)}\n"
        "Pick one with --device, or stream a recording instead: "
        "emorl demo --input-file FILE.wav"
    )


class MicrophoneSource:
    """Live capture with ``sounddevice`` at 16 kHz mono, in blocks of ``block_seconds``."""

    hears_playback = True

    def __init__(self, device: str | int | None = None, block_seconds: float = BLOCK_SECONDS):
        sd = _sounddevice()
        self._sd = sd
        try:
            devices = sd.query_devices()
        except Exception as err:  # PortAudio errors are plain Exceptions
            raise NoInputDeviceError(f"cannot list audio devices: {err}") from err
        if not input_devices(sd):
            raise NoInputDeviceError(no_device_message(devices, device))
        try:
            info = sd.query_devices(device, kind="input")
        except (ValueError, sd.PortAudioError) as err:
            raise NoInputDeviceError(no_device_message(devices, device)) from err
        self.device = device
        self.block = max(1, int(block_seconds * TARGET_SR))
        self.description = f"microphone {info['name']} (16 kHz mono)"
        self._stream: Any = None
        self._sink: BlockQueue | None = None

    def start(self, sink: BlockQueue) -> None:
        self._sink = sink
        try:
            self._stream = self._sd.InputStream(
                samplerate=TARGET_SR,
                channels=1,
                dtype="float32",
                blocksize=self.block,
                device=self.device,
                callback=sink,
            )
            self._stream.start()
        except self._sd.PortAudioError as err:
            raise NoInputDeviceError(
                f"cannot open the microphone at 16 kHz mono ({err}); try another --device or "
                "--input-file FILE.wav"
            ) from err

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        if self._sink is not None:
            self._sink.close()
