"""openSMILE IS09 frames/functionals, padding, feature cache and z-normalisation."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from emorl.recognizers.speech.features import (
    DEFAULT_MAX_FRAMES,
    FRAME_FEATURES,
    FeatureConfig,
    FeatureExtractionError,
    FeatureNormalizer,
    SpeechFeatureExtractor,
    delta_regression,
    pad_or_truncate,
    trim_silence,
)

opensmile = pytest.importorskip("opensmile")
sf = pytest.importorskip("soundfile")

SR = 16000
RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"


def tone(seconds: float = 1.2, seed: int = 0, f0: float = 180.0) -> np.ndarray:
    """A harmonic tone with vibrato, a fade in/out and a little noise: voice-like enough."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    phase = 2 * np.pi * np.cumsum(f0 + 12 * np.sin(2 * np.pi * 5.5 * t)) / SR
    voice = sum(0.25 / k * np.sin(k * phase) for k in range(1, 5))
    envelope = np.clip(np.minimum(t, t[-1] - t) / 0.08, 0, 1)
    return (voice * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def extractor() -> SpeechFeatureExtractor:
    return SpeechFeatureExtractor()


@pytest.fixture(scope="module")
def clip_frames(extractor: SpeechFeatureExtractor) -> tuple[np.ndarray, np.ndarray]:
    samples = tone(1.2)
    return samples, extractor.frames(samples)


def _delta(x: np.ndarray) -> np.ndarray:
    """openSMILE's W=2 delta regression with the edge frames repeated."""
    n = len(x)
    pad = np.concatenate([x[:1], x[:1], x, x[-1:], x[-1:]])
    return (pad[3 : n + 3] - pad[1 : n + 1] + 2 * (pad[4 : n + 4] - pad[0:n])) / 10


# ------------------------------------------------------------------ extraction


def test_frames_shape_dtype_and_names(extractor, clip_frames):
    samples, frames = clip_frames
    assert FRAME_FEATURES == 32 and DEFAULT_MAX_FRAMES == 384
    assert frames.dtype == np.float32 and frames.ndim == 2
    assert frames.shape[1] == FRAME_FEATURES
    assert abs(frames.shape[0] - len(samples) / SR / 0.010) <= 3
    assert np.isfinite(frames).all()
    names = extractor.frame_names
    assert len(names) == 32
    assert names[:16] == list(extractor._smile("LowLevelDescriptors").feature_names)
    assert [n.replace("_de", "") for n in names[16:]] == names[:16]
    assert names[-1] == "F0_sma_de"


def test_deltas_equal_opensmiles_own_delta_table(clip_frames):
    samples, frames = clip_frames
    lld, deltas = frames[:, :16].astype(np.float64), frames[:, 16:].astype(np.float64)
    np.testing.assert_allclose(deltas, _delta(lld), rtol=1e-4, atol=1e-4)
    # openSMILE's delta table: row i is the delta of LLD row i, at every row (edges
    # included), then two extra rows; the computed deltas match it to float32 rounding.
    smile = opensmile.Smile(feature_set="IS09", feature_level="LowLevelDescriptors_Deltas")
    table = smile.process_signal(samples, SR).to_numpy(dtype=np.float64)
    assert len(table) == len(frames) + 2
    np.testing.assert_allclose(deltas, table[: len(frames)], rtol=1e-4, atol=1e-4)
    # A one-frame shift would not match.
    assert not np.allclose(deltas[1:], table[: len(frames) - 1], rtol=1e-2, atol=1e-2)


def test_delta_regression_of_a_ramp_and_of_one_frame():
    ramp = np.arange(10, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)
    d = delta_regression(ramp)
    np.testing.assert_allclose(d[2:-2], [[1.0, -2.0]] * 6, rtol=1e-6)  # slope inside
    np.testing.assert_allclose(d[0], [0.5, -1.0])  # edges repeated: (1 + 2*2 - 0) / 10
    assert d.dtype == np.float32 and not delta_regression(ramp[:1]).any()


def test_frames_count_matches_opensmile_lld_rows(extractor):
    samples = tone(1.0, seed=3)
    lld = opensmile.Smile(feature_set="IS09", feature_level="LowLevelDescriptors")
    assert extractor.frames(samples).shape[0] == len(lld.process_signal(samples, SR))


def test_inputs_are_not_mutated_and_read_only_input_works(extractor):
    samples = tone(0.5, seed=1)
    before = samples.copy()
    samples.setflags(write=False)  # what emorl.audio.load_audio returns
    frames = extractor.frames(samples)
    functionals = extractor.functionals(samples)
    np.testing.assert_array_equal(samples, before)
    assert frames.flags.writeable and functionals.flags.writeable
    # float64 and a (1, n) row give the same result as float32 (n,)
    np.testing.assert_allclose(extractor.frames(before.astype(np.float64)[None]), frames)


def test_functionals_shape_for_is09(extractor):
    functionals = extractor.functionals(tone(1.0, seed=2))
    assert functionals.shape == (384,) and functionals.dtype == np.float32
    assert np.isfinite(functionals).all()
    assert len(extractor.functional_names) == 384


def test_bad_signals_are_refused(extractor):
    with pytest.raises(FeatureExtractionError, match="too short"):
        extractor.frames(np.zeros(100, np.float32))
    with pytest.raises(TypeError, match="float"):
        extractor.frames(np.zeros(SR, np.int16))
    with pytest.raises(ValueError, match="mono"):
        extractor.frames(np.zeros((SR, 2), np.float32))
    bad = tone(0.2)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        extractor.functionals(bad)
    with pytest.raises(ValueError, match="positive"):
        extractor.frames(tone(0.2), 0)


def test_feature_config_key_and_validation():
    base = FeatureConfig()
    assert base.key() == FeatureConfig().key()
    assert "IS09" in base.key() and opensmile.__version__ in base.key()
    keys = {base.key(), FeatureConfig("eGeMAPSv02").key(), FeatureConfig(max_frames=200).key()}
    assert len(keys) == 3
    for bad in ({"feature_set": "../x"}, {"max_frames": 0}, {"max_frames": True}):
        with pytest.raises(ValueError):
            FeatureConfig(**bad)
    with pytest.raises(ValueError, match="unknown openSMILE feature set"):
        SpeechFeatureExtractor(FeatureConfig("IS99"))


def test_other_feature_sets():
    samples = tone(0.5, seed=5)
    egemaps = SpeechFeatureExtractor(FeatureConfig("eGeMAPSv02"))
    assert egemaps.functionals(samples).shape == (88,)
    assert egemaps.frames(samples).shape[1] == 25  # LLDs only: the set has no delta level
    with pytest.raises(ValueError, match="only verified"):
        SpeechFeatureExtractor(FeatureConfig("ComParE_2016")).frames(samples)


def test_extractor_pickles_for_worker_processes(extractor):
    clone = pickle.loads(pickle.dumps(extractor))
    samples = tone(0.3, seed=4)
    np.testing.assert_array_equal(clone.frames(samples), extractor.frames(samples))


# ------------------------------------------------------------------ padding


def test_pad_or_truncate_both_ways():
    frames = np.arange(30, dtype=np.float32).reshape(10, 3) + 1
    padded, length = pad_or_truncate(frames, 16)
    assert padded.shape == (16, 3) and length == 10 and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[:10], frames)
    assert not padded[10:].any()
    cut, length = pad_or_truncate(frames, 4)
    assert cut.shape == (4, 3) and length == 4
    np.testing.assert_array_equal(cut, frames[:4])
    cut[0, 0] = -1  # a copy, not a view
    assert frames[0, 0] == 1
    exact, length = pad_or_truncate(frames, 10)
    assert length == 10
    np.testing.assert_array_equal(exact, frames)
    empty, length = pad_or_truncate(np.zeros((0, 3), np.float32), 5)
    assert empty.shape == (5, 3) and length == 0
    with pytest.raises(ValueError):
        pad_or_truncate(frames[0], 4)
    with pytest.raises(ValueError):
        pad_or_truncate(frames, 0)


# ------------------------------------------------------------------ normalisation


def _sequences(seed: int = 0, n: int = 6, features: int = 5, offset: float = 0.0):
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(offset + 3 * np.arange(features), 1 + np.arange(features), (t, features))
        ).astype(np.float32)
        for t in rng.integers(5, 40, n)
    ]


def test_global_normalizer_gives_zero_mean_unit_std():
    seqs = _sequences()
    copies = [s.copy() for s in seqs]
    norm = FeatureNormalizer.fit(seqs, "global")
    out = [norm.transform(s) for s in seqs]
    for s, c in zip(seqs, copies, strict=True):
        np.testing.assert_array_equal(s, c)  # inputs untouched
    stacked = np.concatenate(out)
    np.testing.assert_allclose(stacked.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(stacked.std(axis=0), 1, atol=1e-4)
    assert out[0].dtype == np.float32 and out[0].shape == seqs[0].shape
    # the streaming stats equal the plain ones over all frames
    np.testing.assert_allclose(norm.mean, np.concatenate(seqs).mean(axis=0), rtol=1e-5)
    # functional vectors count as one frame each
    vectors = [s[0] for s in seqs]
    vnorm = FeatureNormalizer.fit(vectors, "global")
    np.testing.assert_allclose(vnorm.mean, np.mean(vectors, axis=0), rtol=1e-5)
    assert vnorm.transform(vectors[0]).shape == (5,)


def test_constant_feature_uses_std_floor():
    seqs = [np.ones((4, 2), np.float32), np.ones((3, 2), np.float32)]
    norm = FeatureNormalizer.fit(seqs, "global")
    out = norm.transform(np.full((2, 2), 1.5, np.float32))
    np.testing.assert_allclose(out, 0.5 / 1e-6, rtol=1e-5)


def test_speaker_normalizer_uses_each_speakers_stats():
    a, b = _sequences(1, 4, offset=0.0), _sequences(2, 4, offset=50.0)
    norm = FeatureNormalizer.fit(a + b, "speaker", ["a"] * 4 + ["b"] * 4)
    assert set(norm.speaker_stats) == {"a", "b"}
    for group, name in ((a, "a"), (b, "b")):
        stacked = np.concatenate([norm.transform(s, name) for s in group])
        np.testing.assert_allclose(stacked.mean(axis=0), 0, atol=1e-4)
        np.testing.assert_allclose(stacked.std(axis=0), 1, atol=1e-4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fallback = norm.transform(a[0], "zed")
        norm.transform(a[1], "zed")
    assert len(caught) == 1 and "zed" in str(caught[0].message)
    np.testing.assert_allclose(fallback, (a[0] - norm.mean) / norm.std, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="speaker"):
        FeatureNormalizer.fit(a, "speaker")


def test_utterance_normalizer_uses_each_sequences_own_stats():
    norm = FeatureNormalizer.fit([], "utterance")
    assert norm.mean is None and norm.to_arrays() == {}
    for s in _sequences(3, 2):
        out = norm.transform(s)
        np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="vector"):
        norm.transform(np.ones(5, np.float32))


def test_adapt_adds_new_speakers_without_touching_the_originals():
    train = _sequences(4, 4)
    norm = FeatureNormalizer.fit(train, "speaker", ["s1", "s1", "s2", "s2"])
    before = norm.copy()
    test = _sequences(5, 3, offset=-20.0)
    adapted = norm.adapt(test, ["new"] * 3)
    assert norm == before and "new" not in norm.speaker_stats
    assert set(adapted.speaker_stats) == {"s1", "s2", "new"}
    for name in ("s1", "s2"):
        np.testing.assert_array_equal(adapted.speaker_stats[name][0], norm.speaker_stats[name][0])
    np.testing.assert_array_equal(adapted.mean, norm.mean)
    stacked = np.concatenate([adapted.transform(s, "new") for s in test])
    np.testing.assert_allclose(stacked.mean(axis=0), 0, atol=1e-4)
    with pytest.raises(ValueError, match="already"):
        norm.adapt(test, ["s1"] * 3)
    assert set(norm.adapt(test, ["s1"] * 3, overwrite=True).speaker_stats) == {"s1", "s2"}
    with pytest.raises(ValueError, match="speaker"):
        FeatureNormalizer.fit(train, "global").adapt(test, ["x"] * 3)


@pytest.mark.parametrize("mode", ["global", "speaker", "utterance"])
def test_to_arrays_from_arrays_round_trip(mode, tmp_path):
    seqs = _sequences(6, 4)
    norm = FeatureNormalizer.fit(seqs, mode, ["a.b", "a.b", "c", "c"])
    arrays = norm.to_arrays()
    if mode == "speaker":
        assert {"norm.mean", "norm.speaker.a.b.mean", "norm.speaker.c.std"} <= set(arrays)
    restored = FeatureNormalizer.from_arrays({**arrays, "head.weight": np.ones(2)}, mode)
    assert restored == norm
    if arrays:
        from safetensors.numpy import load_file, save_file

        save_file(arrays, str(tmp_path / "norm.safetensors"))
        loaded = FeatureNormalizer.from_arrays(load_file(str(tmp_path / "norm.safetensors")), mode)
        assert loaded == norm
        np.testing.assert_array_equal(loaded.transform(seqs[0], "c"), norm.transform(seqs[0], "c"))
    with pytest.raises(ValueError):
        FeatureNormalizer.from_arrays({**arrays, "norm.bogus": np.ones(5)}, mode)


# ------------------------------------------------------------------ files and cache


@pytest.fixture
def counted(monkeypatch):
    """Count openSMILE runs and file loads; load files with soundfile."""
    counts = {"smile": 0, "load": 0}
    real = opensmile.Smile.process_signal

    def process_signal(self, *args, **kwargs):
        counts["smile"] += 1
        return real(self, *args, **kwargs)

    def load(path):
        counts["load"] += 1
        data, rate = sf.read(path, dtype="float32")
        return data, rate

    monkeypatch.setattr(opensmile.Smile, "process_signal", process_signal)
    monkeypatch.setattr("emorl.recognizers.speech.features._load_samples", load)
    return counts


def test_cache_hit_does_not_recompute(tmp_path, counted):
    wav = tmp_path / "clip.wav"
    samples = tone(0.8, seed=7)
    sf.write(wav, samples, SR, subtype="FLOAT")
    cache = tmp_path / "cache"
    ext = SpeechFeatureExtractor(cache_dir=cache)
    fresh = ext.frames_file(wav)
    assert counted == {"smile": 1, "load": 1}  # LLDs (deltas are computed from them)
    target = ext.cache_path(wav, "frames")
    assert target.parent == cache / FeatureConfig().key() / "frames" and target.exists()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp files left
    again = SpeechFeatureExtractor(cache_dir=cache).frames_file(wav)
    assert counted == {"smile": 1, "load": 1}
    np.testing.assert_array_equal(again, fresh)
    np.testing.assert_array_equal(fresh, ext.frames(samples))
    assert counted["smile"] == 1  # the same samples again: served from memory
    functionals = ext.functionals_file(wav)
    np.testing.assert_array_equal(ext.functionals_file(wav), functionals)
    assert functionals.shape == (384,) and counted["smile"] == 2
    # another configuration has its own cache
    other = SpeechFeatureExtractor(FeatureConfig(max_frames=100), cache_dir=cache)
    other.frames_file(wav)
    assert counted["smile"] == 3 and len(list(cache.iterdir())) == 2


def test_corrupt_cache_file_is_recomputed(tmp_path, counted):
    wav = tmp_path / "clip.wav"
    sf.write(wav, tone(0.4, seed=8), SR, subtype="FLOAT")
    ext = SpeechFeatureExtractor(cache_dir=tmp_path / "cache")
    target = ext.cache_path(wav, "functionals")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an npy file")
    with pytest.warns(UserWarning, match="cache"):
        result = ext.functionals_file(wav)
    assert result.shape == (384,) and counted["smile"] == 1
    np.testing.assert_array_equal(np.load(target, allow_pickle=False), result)


def test_frames_file_through_emorl_audio(tmp_path):
    pytest.importorskip("emorl.audio")
    wav = tmp_path / "clip.wav"
    samples = tone(1.0, seed=9)
    sf.write(wav, samples, SR, subtype="FLOAT")
    frames = SpeechFeatureExtractor().frames_file(wav)
    assert frames.shape[1] == 32 and abs(frames.shape[0] - 100) <= 3


@pytest.mark.data
@pytest.mark.skipif(not RAVDESS.is_dir(), reason="../shared/data/ravdess not present")
def test_real_ravdess_clip(extractor):
    path = sorted(RAVDESS.glob("Actor_01/*.flac"))[0]
    samples, rate = sf.read(path, dtype="float32")
    assert rate == SR and samples.ndim == 1
    frames = extractor.frames(samples, rate)
    assert frames.shape[1] == 32 and abs(frames.shape[0] - len(samples) / SR / 0.010) <= 3
    assert np.isfinite(frames).all()
    assert extractor.frame_names[15] == "F0_sma"
    assert frames[:, 15].max() > 50  # a pitch found somewhere in real speech
    functionals = extractor.functionals(samples, rate)
    assert functionals.shape == (384,) and np.isfinite(functionals).all()
    padded, length = pad_or_truncate(frames, DEFAULT_MAX_FRAMES)
    assert padded.shape == (384, 32) and length == min(frames.shape[0], 384)


def test_covering_adapts_only_unseen_speakers() -> None:
    rng = np.random.default_rng(3)
    train = [rng.normal(size=(20, 4)).astype(np.float32) for _ in range(4)]
    normalizer = FeatureNormalizer.fit(train, "speaker", ["a", "a", "b", "b"])
    assert normalizer.covering(train[:2], ["a", "b"]) is normalizer
    assert normalizer.covering(train[:2], None) is normalizer
    new = [rng.normal(5.0, 2.0, size=(30, 4)).astype(np.float32)]
    covered = normalizer.covering(new + train[:1], ["c", "a"])
    assert set(covered.speaker_stats) == {"a", "b", "c"}
    assert set(normalizer.speaker_stats) == {"a", "b"}  # the original is unchanged
    np.testing.assert_allclose(covered.speaker_stats["c"][0], new[0].mean(0), rtol=1e-5)
    glob = FeatureNormalizer.fit(train, "global")
    assert glob.covering(new, ["c"]) is glob


def test_trim_silence_keeps_the_loud_span_with_a_margin() -> None:
    energy = np.array([0, 0, 0, 0, 1e-4, 0.5, 1.0, 0.02, 0.6, 1e-3, 0, 0, 0], dtype=np.float32)
    frames = np.stack([energy, np.arange(energy.size, dtype=np.float32)], axis=1)
    # 20 dB below the peak: 0.1; loud frames 5..8 (inner quiet frame 7 kept)
    trimmed = trim_silence(frames, 0, threshold_db=20, margin=1)
    assert trimmed[:, 1].tolist() == [4, 5, 6, 7, 8, 9]
    assert np.array_equal(trim_silence(trimmed, 0, 20, 1), trimmed)  # idempotent
    assert trim_silence(frames, 0, 20, margin=50).shape == frames.shape  # margin past the edges
    silent = np.zeros((7, 3), dtype=np.float32)
    assert trim_silence(silent, 0, 20, 1).shape == (7, 3)  # nothing to measure against
    with pytest.raises(ValueError, match="no energy column 5"):
        trim_silence(frames, 5, 20, 1)


def test_extractor_trims_leading_and_trailing_silence(tmp_path: Path) -> None:
    silence = np.zeros(SR // 2, dtype=np.float32)
    samples = np.concatenate([silence, tone(1.0), silence])
    plain = SpeechFeatureExtractor()
    trimming = SpeechFeatureExtractor(FeatureConfig(trim_db=35, trim_margin=5), cache_dir=tmp_path)
    assert plain.energy_column() == plain.frame_names.index("pcm_RMSenergy_sma")
    full, trimmed = plain.frames(samples), trimming.frames(samples)
    assert full.shape[0] > 190 and 95 <= trimmed.shape[0] <= 115  # 2 s of frames -> ~1 s
    assert np.array_equal(trimmed, trim_silence(full, plain.energy_column(), 35, 5))
    path = tmp_path / "padded.wav"
    sf.write(path, samples, SR, subtype="FLOAT")
    assert np.array_equal(trimming.frames_file(path), trimmed)
    # the cache keeps the untrimmed frames, so both configurations share it
    cached = np.load(trimming.cache_path(path, "frames"))
    assert cached.shape == full.shape
    assert FeatureConfig(trim_db=35).key() == FeatureConfig().key()


def test_trim_settings_are_validated(monkeypatch) -> None:
    for bad in ({"trim_db": 0}, {"trim_db": -3.0}, {"trim_margin": -1}, {"trim_margin": 1.5}):
        with pytest.raises(ValueError, match="trim_"):
            FeatureConfig(**bad)
    assert SpeechFeatureExtractor(FeatureConfig(feature_set="eGeMAPSv02")).energy_column() >= 0
    monkeypatch.setattr(SpeechFeatureExtractor, "frame_names", property(lambda self: ["a", "b"]))
    with pytest.raises(ValueError, match="no energy descriptor"):
        SpeechFeatureExtractor().energy_column()


def test_a_prior_shrinks_a_new_speakers_few_clips_towards_the_global_statistics() -> None:
    rng = np.random.default_rng(0)
    train = [rng.normal(size=8) for _ in range(40)]
    norm = FeatureNormalizer.fit(train, "speaker", ["a"] * 20 + ["b"] * 20)
    one = rng.normal(loc=1.0, size=8)
    # one pooled vector as its own statistics normalises to (near) zeros: the signal is gone
    bare = norm.adapt([one], ["new"])
    assert np.abs(bare.transform(one, "new")).max() < 0.1  # zeros up to float32 rounding
    shrunk = norm.adapt([one], ["new"], prior_count=4)
    out = shrunk.transform(one, "new")
    glob = (one - norm.mean) / norm.std
    assert np.all(np.sign(out) == np.sign(glob)) and np.abs(out).max() > 0.1
    # the shrunk statistics are those of the clip pooled with 4 clips of the global ones
    mean, _ = shrunk.speaker_stats["new"]
    assert np.allclose(mean, (one + 4 * norm.mean) / 5, atol=1e-5)
    # with many clips the prior barely matters
    many = [rng.normal(loc=1.0, size=8) for _ in range(400)]
    a = norm.adapt(many, ["m"] * 400).speaker_stats["m"][0]
    b = norm.adapt(many, ["m"] * 400, prior_count=4).speaker_stats["m"][0]
    assert np.abs(a - b).max() < 0.02
    with pytest.raises(ValueError, match="prior_count must be >= 0"):
        norm.adapt([one], ["new"], prior_count=-1)
