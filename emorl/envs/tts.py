"""The simulated caller's voice: ``espeak-ng`` with emotion-dependent prosody, 16 kHz, cached.

Prosody per emotion (pitch, pitch range, rate, amplitude) follows the usual acoustic
correlates: anger loud, fast and wide-ranged; sadness low, slow, quiet and flat; joy
high and wide-ranged. Each caller has a voice (an espeak-ng variant and a pitch
offset) drawn from the environment's generator. Audio is cached in memory and, with a
``cache_dir``, on disk as 16-bit WAV keyed by a hash of text and settings.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np

#: emotion -> (pitch 0-99 offset, SSML pitch range, rate words/min, amplitude 0-200)
PROSODY: dict[str, tuple[int, str, int, int]] = {
    "neutral": (0, "medium", 165, 100),
    "happy": (15, "x-high", 185, 120),
    "sad": (-15, "x-low", 125, 70),
    "angry": (5, "high", 200, 160),
}
VARIANTS = ("m1", "m3", "m7", "f1", "f2", "f4")
SAMPLING_RATE = 16_000


class SpeechSynthesiser:
    """``synthesise(text, emotion, voice) -> float32 samples at 16 kHz``."""

    def __init__(self, binary: str = "espeak-ng", cache_dir: str | Path | None = None) -> None:
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(
                f"{binary} not found: install it (Debian: apt-get install espeak-ng; "
                "or scripts/install_system_deps.sh)"
            )
        self.binary = found
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[str, np.ndarray] = {}

    @staticmethod
    def settings(emotion: str, voice: int) -> tuple[str, int, str, int, int]:
        """(espeak voice, pitch, range, rate, amplitude) of ``emotion`` for caller ``voice``."""
        pitch, span, rate, amplitude = PROSODY[emotion]
        variant = VARIANTS[voice % len(VARIANTS)]
        base = 40 + 12 * ((voice // len(VARIANTS)) % 2)
        return f"en+{variant}", int(np.clip(base + pitch, 0, 99)), span, rate, amplitude

    def synthesise(self, text: str, emotion: str, voice: int = 0) -> np.ndarray:
        """One reply's samples (read-only)."""
        return self.synthesise_many([(text, emotion, voice)])[0]

    def synthesise_many(self, items: list[tuple[str, str, int]]) -> list[np.ndarray]:
        """Several replies; uncached ones are spoken by concurrent espeak-ng processes."""
        keys = [self._key(*item) for item in items]
        running: dict[str, subprocess.Popen[bytes]] = {}
        for key, item in zip(keys, items, strict=True):
            if key in self._memory or key in running:
                continue
            path = self._path(key)
            if path is not None and path.is_file():
                self._store(key, path.read_bytes(), write=False)
            else:
                running[key] = subprocess.Popen(
                    self._command(item[0], *self.settings(item[1], item[2])),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
        for key, process in running.items():
            wav, err = process.communicate()
            if process.returncode != 0 or not wav:
                raise RuntimeError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
            self._store(key, wav, write=True)
        return [self._memory[key] for key in keys]

    def _key(self, text: str, emotion: str, voice: int) -> str:
        settings = self.settings(emotion, voice)
        return hashlib.sha256(repr((text, settings)).encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"{key}.wav" if self.cache_dir is not None else None

    def _store(self, key: str, wav: bytes, *, write: bool) -> None:
        path = self._path(key)
        if write and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wav)
        samples = _read_wav(wav)
        samples.setflags(write=False)
        self._memory[key] = samples

    def _command(
        self, text: str, name: str, pitch: int, span: str, rate: int, amplitude: int
    ) -> list[str]:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        ssml = f'<speak><prosody range="{span}">{escaped}</prosody></speak>'
        command = [self.binary, "--stdout", "-m", "-v", name, "-p", str(pitch)]
        return command + ["-s", str(rate), "-a", str(amplitude), ssml]


def _read_wav(data: bytes) -> np.ndarray:
    import soundfile as sf

    from emorl.audio import resample

    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SAMPLING_RATE:
        samples = resample(samples, rate, SAMPLING_RATE)
    return np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
