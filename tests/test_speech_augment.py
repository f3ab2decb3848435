"""Waveform augmentation, degradation and loudness normalisation (numpy/scipy, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from emorl.recognizers.speech.augment import (
    DEGRADATIONS,
    Augmentation,
    add_noise,
    augment,
    degrade,
    gated_loudness_db,
    normalize_loudness,
    pitch_shift,
    reverberate,
    speed_perturb,
    telephone,
)

SR = 16000


def voiced(seconds: float = 1.0, f0: float = 150.0, amplitude: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return (amplitude * wave / np.max(np.abs(wave))).astype(np.float32)


def f0_of(x: np.ndarray) -> float:
    """Pitch by autocorrelation of a stretch in the middle."""
    seg = x[len(x) // 2 - 1024 : len(x) // 2 + 1024].astype(np.float64)
    ac = np.correlate(seg, seg, "full")[len(seg) - 1 :]
    lo, hi = SR // 500, SR // 60
    return SR / (lo + int(np.argmax(ac[lo:hi])))


def spectrum_share_above(x: np.ndarray, hz: float) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float(power[freqs > hz].sum() / power.sum())


def test_gated_loudness_ignores_silence_and_normalises() -> None:
    x = voiced(1.0)
    padded = np.concatenate([np.zeros(SR, np.float32), x, np.zeros(SR, np.float32)])
    # a plain RMS drops by 10 log10(3) = 4.8 dB with the silence; the gated level barely
    assert abs(gated_loudness_db(padded) - gated_loudness_db(x)) < 1.5
    rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert abs(gated_loudness_db(x) - rms_db) < 0.5
    for gain in (0.05, 1.0, 4.0):
        y = normalize_loudness(np.clip(x * gain, -1, 1), -23.0)
        assert abs(gated_loudness_db(y) - (-23.0)) < 0.01
    assert gated_loudness_db(np.zeros(SR, np.float32)) == float("-inf")
    np.testing.assert_array_equal(normalize_loudness(np.zeros(100, np.float32)), 0.0)
    loud = normalize_loudness(x, -1.0)  # would pass full scale: the peak is limited to 1
    assert np.max(np.abs(loud)) <= 1.0 + 1e-6


def test_operations_keep_input_and_do_what_they_say() -> None:
    x = voiced(1.0)
    x.flags.writeable = False
    rng = np.random.default_rng(0)
    faster = speed_perturb(x, 1.1)
    assert abs(faster.size - x.size / 1.1) <= 2
    assert abs(f0_of(faster) / f0_of(x) - 1.1) < 0.05
    up = pitch_shift(x, 3.0)
    assert up.size == x.size and abs(f0_of(up) / f0_of(x) - 2 ** (3 / 12)) < 0.05
    noisy = add_noise(x, 10.0, rng, "pink")
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean((noisy - x) ** 2))
    assert abs(snr - 10.0) < 0.5
    wet = reverberate(x, 0.5, rng)
    assert wet.size == x.size and np.isclose(np.max(np.abs(wet)), np.max(np.abs(x)))
    bright = voiced(1.0, f0=1000.0)
    assert spectrum_share_above(telephone(bright), 4200) < 0.01 < spectrum_share_above(bright, 4200)
    for name in DEGRADATIONS:
        y = degrade(x, name, seed=1)
        assert y.dtype == np.float32 and np.max(np.abs(y)) <= 1.0
        np.testing.assert_array_equal(y, degrade(x, name, seed=1))  # seeded: the same clip
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(x, "underwater")
    with pytest.raises(ValueError, match="speed factor"):
        speed_perturb(x, 3.0)
    with pytest.raises(ValueError, match="mono"):
        speed_perturb(np.zeros((10, 2), np.float32), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        add_noise(np.array([0.1, np.nan], np.float32), 10, rng)


def test_augment_is_seeded_and_validated() -> None:
    x = voiced(1.0)
    policy = Augmentation(copies=2)
    a, applied = augment(x, np.random.default_rng([0, 1, 7]), policy)
    b, again = augment(x, np.random.default_rng([0, 1, 7]), policy)
    np.testing.assert_array_equal(a, b)
    assert applied == again and np.max(np.abs(a)) <= 1.0
    c, _ = augment(x, np.random.default_rng([0, 2, 7]), policy)
    assert not np.array_equal(a, c)
    assert Augmentation.from_dict(policy.to_dict()) == policy
    assert policy.key() == Augmentation(copies=5).key()  # copies are not part of a copy
    assert policy.key() != Augmentation(noise_p=0.9).key()
    with pytest.raises(ValueError, match="copies"):
        Augmentation(copies=0)
    with pytest.raises(ValueError, match="speed_p"):
        Augmentation(speed_p=1.5)
    with pytest.raises(ValueError, match="noise colours"):
        Augmentation(noise_colours=("purple",))
