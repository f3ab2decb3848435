"""The bimodal posteriors cache on disk: shards shared by processes, refused when stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emorl.envs.recognition import BimodalRecognizer, Reply
from emorl.envs.shards import PosteriorShards
from emorl.envs.tts import ClipMemory

ROW = np.array([0.1, 0.2, 0.3, 0.4])


def test_shards_are_shared_between_writers_and_survive_a_restart(tmp_path) -> None:
    first = PosteriorShards(tmp_path, "rec-a", flush_every=2)
    second = PosteriorShards(tmp_path, "rec-a", flush_every=0)
    first[("hello", "happy", 3, "hello")] = ROW
    assert ("hello", "happy", 3, "hello") not in second
    first[("no", "angry", 0, None)] = ROW[::-1]  # second entry: flushed as a shard
    assert len(list(first.shards())) == 1
    second.refresh()
    assert np.array_equal(second[("no", "angry", 0, None)], ROW[::-1])
    assert ("no", "angry", 0, "") not in second  # a transcribed key stays distinct
    second[("fine", "neutral", 1, "fine")] = ROW
    second.flush()
    assert first.flush() is None  # nothing new; reads the other writer's shard
    assert len(first) == 3 and len(PosteriorShards(tmp_path, "rec-a")) == 3


def test_shards_refuse_another_model_and_a_corrupt_file(tmp_path) -> None:
    shards = PosteriorShards(tmp_path, "rec-a", flush_every=0)
    shards[("hello", "happy", 0, "hello")] = ROW
    path = shards.flush()
    assert path is not None
    (tmp_path / "rec-b").mkdir()
    path.rename(tmp_path / "rec-b" / path.name)
    with pytest.raises(ValueError, match="shard of recognizer 'rec-a', not 'rec-b'"):
        PosteriorShards(tmp_path, "rec-b")
    broken = tmp_path / "rec-c" / "shard-x.npz"
    broken.parent.mkdir()
    broken.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"shard-x\.npz: not a readable posteriors shard"):
        PosteriorShards(tmp_path, "rec-c")
    with pytest.raises(ValueError, match="4 finite numbers"):
        shards[("x", "sad", 0, "x")] = np.array([np.nan, 0, 0, 1])
    with pytest.raises(ValueError, match="plain folder name"):
        PosteriorShards(tmp_path, "../up")


class CountingModel:
    labels = ("angry", "happy", "neutral", "sad")

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, audio, transcript=None):
        self.calls += 1
        return {"fused": np.array([0.1, 0.6, 0.2, 0.1])}


class SilentVoice:
    def synthesise(self, text: str, emotion: str, voice: int = 0) -> np.ndarray:
        return np.zeros(1600, np.float32)


def test_bimodal_recognizer_reuses_another_process_posteriors(tmp_path) -> None:
    replies = [Reply("I am happy", "happy", 2), Reply("No way", "angry", 5)]
    writer_model = CountingModel()
    writer = BimodalRecognizer(
        writer_model, SilentVoice(), transcripts="provided", cache_dir=tmp_path, model_id="m"
    )
    expected = writer.posteriors(replies)
    writer.flush()
    reader_model = CountingModel()
    reader = BimodalRecognizer(
        reader_model, SilentVoice(), transcripts="provided", cache_dir=tmp_path, model_id="m"
    )
    assert np.array_equal(reader.posteriors(replies), expected)
    assert (writer_model.calls, reader_model.calls, reader.hits) == (2, 0, 2)
    with pytest.raises(ValueError, match="needs model_id="):
        BimodalRecognizer(CountingModel(), SilentVoice(), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="provided or noisy"):
        BimodalRecognizer(
            CountingModel(), SilentVoice(), transcripts="asr", cache_dir=tmp_path, model_id="m"
        )


def test_clip_memory_keeps_the_latest_clips() -> None:
    memory = ClipMemory(2)
    for key in "abc":
        memory.put(key, np.zeros(1))
        memory.get_clip("a")
    assert list(memory) == ["c", "a"]


def test_the_caller_says_each_text_in_one_emotion() -> None:
    from emorl.envs.cache import all_replies
    from emorl.envs.speech_cache import spoken_replies
    from emorl.simulator import Scenario, UtteranceBank

    scenario, bank = Scenario.load(None), UtteranceBank.load(None)
    pairs = spoken_replies(scenario, bank)
    assert [t for t, _ in pairs] == all_replies(scenario, bank)  # one emotion per text


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_warmed_speech_posteriors_are_what_the_environment_computes(tmp_path) -> None:
    import gymnasium as gym

    from emorl.envs.speech_cache import warm_bimodal_cache

    replies = [("Okay, thank you.", "happy"), ("This is ridiculous!", "angry")]
    counts = warm_bimodal_cache(tmp_path, voices=[4], replies=replies, workers=1, progress=False)
    assert counts["computed"] == 2 and len(list(Path(counts["folder"]).glob("*.npz"))) == 1
    again = warm_bimodal_cache(tmp_path, voices=[4], replies=replies, workers=1, progress=False)
    assert again["computed"] == 0
    kwargs = {"recognizer": "bimodal", "transcripts": "provided", "estimator": None}
    warm = gym.make("EmoDialogue-v1", bimodal_cache=str(tmp_path), **kwargs).unwrapped
    assert Path(warm.recognizer.cache.folder) == Path(counts["folder"])  # the same identity
    asked = [Reply(text, emotion, 4, "", "") for text, emotion in replies]
    fresh = gym.make("EmoDialogue-v1", bimodal_cache=str(tmp_path / "other"), **kwargs).unwrapped
    np.testing.assert_allclose(
        warm.recognizer.posteriors(asked), fresh.recognizer.posteriors(asked), atol=1e-4
    )
    assert warm.recognizer.hits == 2 and fresh.recognizer.misses == 2
    with pytest.raises(ValueError, match="unknown emotion"):
        warm_bimodal_cache(tmp_path, replies=[("Hi", "bored")], progress=False)
