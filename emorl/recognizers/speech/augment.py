"""Waveform augmentation, degradation and loudness normalisation for speech emotion models.

Everything here works on 16 kHz mono float32 samples (what :func:`emorl.audio.load_audio`
returns) with numpy and scipy only, returns a new array and never changes its input.

* :func:`normalize_loudness` scales a clip to a target level measured by
  :func:`gated_loudness_db`: the gated mean-square level of ITU-R BS.1770 (400 ms blocks,
  75 % overlap, absolute gate -70 dB, relative gate -10 dB) **without** its K-weighting
  filter, in dB relative to full scale. Leading and trailing silence barely moves it, unlike
  a plain RMS. Applied at training and at inference (the Whisper SER's ``loudness_db``).
* Augmentations for training (:class:`Augmentation`, :func:`augment`): speed perturbation
  (resampling: tempo and pitch together, as in Kaldi), pitch shift at constant tempo (a phase
  vocoder then resampling), additive coloured noise at a random signal-to-noise ratio (white,
  pink or brown; the signal power is the gated level above), a synthetic room (exponentially
  decaying noise impulse response for a random RT60 after a direct path) and a random gain.
* Degradations for testing (:data:`DEGRADATIONS`, :func:`degrade`): fixed settings of the
  same operations plus a telephone channel (300-3400 Hz band-pass, 8 kHz, mu-law 8 bit).
  Randomness (noise, the room) comes from a seed, so a degraded clip is always the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from emorl.fingerprint import sha256_json

__all__ = [
    "DEGRADATIONS",
    "Augmentation",
    "add_noise",
    "augment",
    "degrade",
    "gated_loudness_db",
    "normalize_loudness",
    "pitch_shift",
    "reverberate",
    "speed_perturb",
    "telephone",
]

SR = 16000
#: Bump when an operation's output for the same seed changes (it keys cached features).
AUGMENT_VERSION = 2
BLOCK_SECONDS = 0.4
ABSOLUTE_GATE_DB = -70.0
RELATIVE_GATE_DB = -10.0
NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def _samples(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (n,), got shape {x.shape}")
    if x.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples hold NaN or infinite values")
    return x


# --------------------------------------------------------------------------- loudness


def gated_loudness_db(samples: np.ndarray, sampling_rate: int = SR) -> float:
    """Gated mean-square level in dB (BS.1770 gating, no K-weighting); ``-inf`` for silence.

    Mean squares of 400 ms blocks (hop 100 ms; one block for a shorter clip) are kept when
    above -70 dB and then when above the mean of those kept minus 10 dB; the level is
    ``10 log10`` of the mean of the blocks kept.
    """
    x = _samples(samples).astype(np.float64)
    block = max(1, int(round(BLOCK_SECONDS * sampling_rate)))
    hop = max(1, block // 4)
    if x.size <= block:
        powers = np.array([np.mean(x**2)])
    else:
        squared = np.concatenate([[0.0], np.cumsum(x**2)])
        starts = np.arange(0, x.size - block + 1, hop)
        powers = (squared[starts + block] - squared[starts]) / block
    with np.errstate(divide="ignore"):
        levels = 10 * np.log10(powers)
    kept = powers[levels > ABSOLUTE_GATE_DB]
    if kept.size == 0:
        return float("-inf")
    relative = 10 * math.log10(float(np.mean(kept))) + RELATIVE_GATE_DB
    with np.errstate(divide="ignore"):
        kept = kept[10 * np.log10(kept) > relative]
    return float(10 * math.log10(float(np.mean(kept))))


def normalize_loudness(
    samples: np.ndarray,
    target_db: float = -23.0,
    *,
    max_gain_db: float = 30.0,
    sampling_rate: int = SR,
) -> np.ndarray:
    """``samples`` scaled to ``target_db`` (:func:`gated_loudness_db`), peak at most 1.

    The gain is limited to ``±max_gain_db`` (near-silent input is not blown up into noise),
    and lowered when the scaled peak would pass full scale. Silence is returned unchanged.
    """
    x = _samples(samples)
    level = gated_loudness_db(x, sampling_rate)
    if not math.isfinite(level):
        return x.copy()
    gain_db = float(np.clip(target_db - level, -max_gain_db, max_gain_db))
    gain = 10 ** (gain_db / 20)
    peak = float(np.max(np.abs(x)))
    if peak * gain > 1.0:
        gain = 1.0 / peak
    return (x * np.float32(gain)).astype(np.float32)


# --------------------------------------------------------------------------- operations


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together): resampling by 1/``factor``.

    The factor is rounded to 0.01 (a short resampling filter).
    """
    from scipy.signal import resample_poly

    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"speed factor must be in [0.5, 2], got {factor}")
    x = _samples(samples)
    up, down = 100, int(round(100 * factor))
    g = math.gcd(up, down)
    return np.asarray(resample_poly(x, up // g, down // g), dtype=np.float32)


def _time_stretch(x: np.ndarray, rate: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate`` > 1 is shorter (faster), pitch unchanged."""
    from scipy.signal import istft, stft

    _, _, spec = stft(x, nperseg=n_fft, noverlap=n_fft - hop, boundary="even", padded=True)
    steps = np.arange(0, spec.shape[1] - 1, rate)
    omega = 2 * np.pi * hop * np.arange(spec.shape[0]) / n_fft
    phase = np.angle(spec[:, 0])
    out = np.empty((spec.shape[0], steps.size), dtype=np.complex64)
    for i, step in enumerate(steps):
        j = int(step)
        frac = step - j
        left, right = spec[:, j], spec[:, j + 1]
        magnitude = (1 - frac) * np.abs(left) + frac * np.abs(right)
        out[:, i] = magnitude * np.exp(1j * phase)
        advance = np.angle(right) - np.angle(left) - omega
        advance -= 2 * np.pi * np.round(advance / (2 * np.pi))
        phase = phase + omega + advance
    _, y = istft(out, nperseg=n_fft, noverlap=n_fft - hop, boundary=True)
    return np.asarray(y, dtype=np.float32)


def pitch_shift(samples: np.ndarray, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` at (about) the same duration.

    The frequency ratio is rounded to 0.01 (about 0.17 semitone; a short resampling filter).
    """
    from scipy.signal import resample_poly

    if abs(semitones) > 12:
        raise ValueError(f"pitch shift must be within ±12 semitones, got {semitones}")
    x = _samples(samples)
    if semitones == 0:
        return x.copy()
    down = int(round(100 * 2 ** (semitones / 12)))
    if down == 100:
        return x.copy()
    up, ratio = 100, down / 100
    stretched = _time_stretch(x, 1 / ratio)  # longer by ratio, pitch kept
    g = math.gcd(up, down)
    y = np.asarray(resample_poly(stretched, up // g, down // g), dtype=np.float32)
    out = np.zeros_like(x)
    out[: min(x.size, y.size)] = y[: x.size]
    return out


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with a ``1/f^beta`` power spectrum (white 0, pink 1, brown 2), unit RMS."""
    if colour not in NOISE_COLOURS:
        raise ValueError(f"noise colour must be one of {sorted(NOISE_COLOURS)}, got {colour!r}")
    from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

    beta = NOISE_COLOURS[colour]
    size = next_fast_len(max(n, 2), real=True)  # a length the FFT is fast for, then cut
    spectrum = rfft(rng.standard_normal(size))
    freqs = rfftfreq(size)
    freqs[0] = freqs[1]
    noise = irfft(spectrum / freqs ** (beta / 2), size)[:n]
    noise -= noise.mean()
    rms = float(np.sqrt(np.mean(noise**2)))
    return (noise / rms if rms > 0 else noise).astype(np.float32)


def add_noise(
    samples: np.ndarray, snr_db: float, rng: np.random.Generator, colour: str = "white"
) -> np.ndarray:
    """Add ``colour`` noise ``snr_db`` below the clip's gated level (a silent clip: unchanged)."""
    x = _samples(samples)
    level = gated_loudness_db(x)
    if not math.isfinite(level):
        return x.copy()
    noise = coloured_noise(x.size, colour, rng)
    scale = 10 ** ((level - snr_db) / 20)
    return (x + np.float32(scale) * noise).astype(np.float32)


def room_impulse(rt60: float, rng: np.random.Generator, sampling_rate: int = SR) -> np.ndarray:
    """A synthetic room: a direct path, then exponentially decaying noise (60 dB in ``rt60``)."""
    if not 0.05 <= rt60 <= 3.0:
        raise ValueError(f"rt60 must be in [0.05, 3] s, got {rt60}")
    n = int(rt60 * sampling_rate)
    t = np.arange(n) / sampling_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # ln(1000): -60 dB at rt60
    delay = int(0.005 * sampling_rate)  # the first reflection 5 ms after the direct sound
    impulse = np.zeros(n + delay)
    impulse[delay:] = 0.5 * tail / np.sqrt(np.sum(tail**2))
    impulse[0] = 1.0
    return impulse.astype(np.float32)


def reverberate(samples: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with :func:`room_impulse`; same length, same peak as the input."""
    from scipy.signal import fftconvolve

    x = _samples(samples)
    y = fftconvolve(x, room_impulse(rt60, rng))[: x.size]
    peak_in, peak_out = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y = y * (peak_in / peak_out)
    return np.asarray(y, dtype=np.float32)


def telephone(samples: np.ndarray, sampling_rate: int = SR) -> np.ndarray:
    """A telephone channel: 300-3400 Hz band-pass, 8 kHz, mu-law 8 bit, back to the rate."""
    from scipy.signal import butter, resample_poly, sosfilt

    x = _samples(samples)
    sos = butter(4, (300, 3400), btype="bandpass", fs=sampling_rate, output="sos")
    band = sosfilt(sos, x)
    narrow = resample_poly(band, 8000, sampling_rate)
    mu = 255.0
    peak = max(float(np.max(np.abs(narrow))), 1e-9)
    scaled = np.clip(narrow / peak, -1, 1)
    coded = np.sign(scaled) * np.log1p(mu * np.abs(scaled)) / np.log1p(mu)
    coded = np.round(coded * 127) / 127
    decoded = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu * peak
    y = resample_poly(decoded, sampling_rate, 8000)[: x.size]
    out = np.zeros_like(x)
    out[: y.size] = y
    return out.astype(np.float32)


# --------------------------------------------------------------------------- training policy


@dataclass(frozen=True)
class Augmentation:
    """A random chain of operations per training copy; each applies with its probability.

    Order: speed, pitch, room, noise, gain. Ranges are uniform. ``copies`` augmented copies
    of each training clip join the clean clip (test clips are never augmented).
    """

    copies: int = 2
    speed_p: float = 0.5
    speed_range: tuple[float, float] = (0.9, 1.1)
    pitch_p: float = 0.5
    pitch_semitones: float = 2.0
    reverb_p: float = 0.4
    rt60_range: tuple[float, float] = (0.2, 0.8)
    noise_p: float = 0.5
    snr_range: tuple[float, float] = (5.0, 25.0)
    noise_colours: tuple[str, ...] = ("white", "pink", "brown")
    gain_p: float = 0.5
    gain_db: float = 10.0

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise ValueError(f"copies must be >= 1, got {self.copies}")
        for name in ("speed_p", "pitch_p", "reverb_p", "noise_p", "gain_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for name in ("speed_range", "rt60_range", "snr_range"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} must be (low, high), got {(low, high)}")
        unknown = set(self.noise_colours) - NOISE_COLOURS.keys()
        if unknown or not self.noise_colours:
            raise ValueError(f"noise colours must be among {sorted(NOISE_COLOURS)}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Augmentation:
        values = dict(data)
        for key in ("speed_range", "rt60_range", "snr_range", "noise_colours"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def key(self) -> str:
        """A short digest of the settings (part of feature cache names)."""
        settings = {k: v for k, v in self.to_dict().items() if k != "copies"}
        return sha256_json({**settings, "version": AUGMENT_VERSION})[:12]


def augment(
    samples: np.ndarray, rng: np.random.Generator, policy: Augmentation | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """One augmented copy of ``samples`` and what was applied (for the record)."""
    policy = policy or Augmentation()
    x = _samples(samples)
    applied: dict[str, Any] = {}
    if rng.random() < policy.speed_p:
        factor = float(rng.uniform(*policy.speed_range))
        x, applied["speed"] = speed_perturb(x, factor), round(factor, 4)
    if rng.random() < policy.pitch_p:
        semitones = float(rng.uniform(-policy.pitch_semitones, policy.pitch_semitones))
        x, applied["pitch"] = pitch_shift(x, semitones), round(semitones, 3)
    if rng.random() < policy.reverb_p:
        rt60 = float(rng.uniform(*policy.rt60_range))
        x, applied["rt60"] = reverberate(x, rt60, rng), round(rt60, 3)
    if rng.random() < policy.noise_p:
        snr = float(rng.uniform(*policy.snr_range))
        colour = str(policy.noise_colours[int(rng.integers(len(policy.noise_colours)))])
        x = add_noise(x, snr, rng, colour)
        applied["noise"] = {"snr_db": round(snr, 2), "colour": colour}
    if rng.random() < policy.gain_p:
        gain_db = float(rng.uniform(-policy.gain_db, policy.gain_db))
        x = x * np.float32(10 ** (gain_db / 20))
        applied["gain_db"] = round(gain_db, 2)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 1.0:  # keep valid audio in [-1, 1]
        x = x / np.float32(peak)
    return np.ascontiguousarray(x, dtype=np.float32), applied


# --------------------------------------------------------------------------- test conditions


def _noise_10db(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return add_noise(x, 10.0, rng, "pink")


def _reverb_06(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return reverberate(x, 0.6, rng)


def _speed_09(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return speed_perturb(x, 0.9)


def _telephone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return telephone(x)


#: Fixed test conditions: name -> (description, function(samples, rng)).
DEGRADATIONS: dict[str, tuple[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]]] = {
    "noise": ("pink noise at 10 dB SNR", _noise_10db),
    "reverb": ("synthetic room, RT60 0.6 s", _reverb_06),
    "speed": ("speed x0.9 (slower, lower)", _speed_09),
    "telephone": ("300-3400 Hz, 8 kHz, mu-law", _telephone),
}


def degrade(samples: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """``samples`` under the test condition ``name`` of :data:`DEGRADATIONS`, peak <= 1."""
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}: one of {', '.join(DEGRADATIONS)}")
    y = DEGRADATIONS[name][1](_samples(samples), np.random.default_rng(seed))
    peak = float(np.max(np.abs(y)))
    if peak > 1.0:
        y = y / np.float32(peak)
    return np.ascontiguousarray(y, dtype=np.float32)
