"""EmoDialogue-v1: registration, API checks, determinism, recognizer modes, rendering."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import emorl  # noqa: F401  (registers EmoDialogue-v1)
from emorl.emotions import FOUR_CLASS
from emorl.envs import EmoDialogueEnv, OracleRecognizer, TextRecognizer
from emorl.envs.policies import ScriptedSupportAgent
from emorl.envs.recognition import BimodalRecognizer, Reply, fused_posteriors
from emorl.envs.vector import EmoDialogueVectorEnv
from emorl.envs.wrappers import EmotionRewardWrapper
from emorl.reward import EmotionReward


class FakeTER:
    """Deterministic stand-in for the text recognizer: posteriors from a hash of the text."""

    labels = FOUR_CLASS

    def __init__(self) -> None:
        self.calls: list[int] = []

    def probabilities(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            digest = hashlib.sha256(text.encode()).digest()
            logits = np.frombuffer(digest[:4], dtype=np.uint8).astype(float) / 64
            rows.append(np.exp(logits) / np.exp(logits).sum())
        return np.array(rows)


def oracle_env(**kwargs) -> gym.Env:
    return gym.make("EmoDialogue-v1", recognizer="oracle", estimator=None, **kwargs)


def rollout(env: gym.Env, seed: int, steps: int = 30) -> list:
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [(obs.tolist(), info["user_text"])]
    for _ in range(steps):
        obs, r, te, tr, info = env.step(env.action_space.sample())
        out.append((obs.tolist(), r, te, tr, info["user_text"], info["true_emotion"]))
        if te or tr:
            obs, info = env.reset()
    return out


def test_make_after_import_and_by_module_prefix() -> None:
    env = oracle_env()
    assert isinstance(env.unwrapped, EmoDialogueEnv)
    assert env.spec.max_episode_steps is None  # the env truncates at its own max_turns
    code = (
        "import gymnasium as gym; e = gym.make('emorl:EmoDialogue-v1', recognizer='oracle', "
        "estimator=None); print(type(e.unwrapped).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "EmoDialogueEnv"


def test_gymnasium_and_sb3_check_env() -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = oracle_env()
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(EmoDialogueEnv(recognizer="oracle", estimator=None), warn=True)


def test_same_seed_same_rollout_text_mode() -> None:
    make = lambda: gym.make(  # noqa: E731
        "EmoDialogue-v1", recognizer=TextRecognizer(FakeTER()), reward="delta", estimator=None
    )
    assert rollout(make(), 7) == rollout(make(), 7)
    assert rollout(make(), 7) != rollout(make(), 8)


def test_observation_never_holds_the_true_emotion_and_info_is_complete() -> None:
    env = oracle_env()
    names = env.unwrapped.feature_names
    assert not any("true" in n or "mood" in n or "valence" in n for n in names)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for key in ("user_text", "true_emotion", "mood", "posteriors"):
        assert key in info
    agent = ScriptedSupportAgent.for_env(env)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent(obs))
        assert "reward_terms" in info and "act" in info
        done = terminated or truncated
    assert terminated and info["success"] and not info["hangup"]
    assert {"final_mood", "turns", "outcome"} <= set(info)


def test_scripted_agent_beats_random_policy() -> None:
    env = oracle_env()
    agent = ScriptedSupportAgent.for_env(env)
    env.action_space.seed(0)
    stats = {"scripted": [], "random": []}
    for kind, outcomes in stats.items():
        for seed in range(30):
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                act = agent(obs) if kind == "scripted" else env.action_space.sample()
                obs, _, te, tr, info = env.step(act)
                done = te or tr
            outcomes.append((info["success"], info["final_mood"]["valence"]))
    scripted, random = np.array(stats["scripted"]), np.array(stats["random"])
    assert scripted[:, 0].mean() > 0.9 > 0.2 > random[:, 0].mean()
    assert scripted[:, 1].mean() > random[:, 1].mean() + 0.5


def test_turn_limit_truncates() -> None:
    env = gym.make(
        "EmoDialogue-v1",
        recognizer="oracle",
        estimator=None,
        max_turns=3,
        scenario=None,
    )
    env.reset(seed=1)
    apologise = env.unwrapped.act_names.index("apologise")
    results = [env.step(apologise)[2:4] for _ in range(3)]
    assert results[-1] == (False, True)
    with pytest.raises(RuntimeError, match="ended"):
        env.step(apologise)
    long = gym.make("EmoDialogue-v1", recognizer="oracle", estimator=None, max_turns=30)
    long.reset(seed=1)
    greet = long.unwrapped.act_names.index("greet")
    truncated = [long.step(greet if t == 0 else apologise)[3] for t in range(2)]
    assert truncated == [False, False]


def test_render_modes(capsys) -> None:
    env = oracle_env(render_mode="ansi")
    env.reset(seed=0)
    env.step(0)
    text = env.render()
    assert "agent: greet" in text and "user:" in text
    human = oracle_env(render_mode="human")
    human.reset(seed=0)
    assert "call starts" in capsys.readouterr().out


def test_human_render_prints_the_words_as_said(capsys) -> None:
    """Brackets and colon codes in a reply are text, not rich markup or emoji."""
    from types import SimpleNamespace

    from emorl.envs.render import render_human

    entry = {
        "posteriors": np.array([0.1, 0.7, 0.1, 0.1]),
        "act": "greet",
        "text": "[bold]fine[/bold] :smile:",
        "emotion": "happy",
        "reward": 0.5,
    }
    render_human(SimpleNamespace(history=[entry]))
    out = capsys.readouterr().out
    assert "[bold]fine[/bold] :smile:" in out and "heard happy 0.70" in out


def test_oracle_confusion_and_errors() -> None:
    oracle = OracleRecognizer(0.2)
    p = oracle.posteriors([Reply("x", "angry")])[0]
    assert p.argmax() == 3 and p.sum() == pytest.approx(1.0) and p[3] == pytest.approx(0.85)
    with pytest.raises(ValueError):
        OracleRecognizer([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="unknown recognizer"):
        EmoDialogueEnv(recognizer="telepathy", estimator=None)
    env = EmoDialogueEnv(recognizer="oracle", estimator=None)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_text_recognizer_batches_and_caches(tmp_path) -> None:
    fake = FakeTER()
    rec = TextRecognizer(fake, cache_path=tmp_path / "c.npz", model_id="fake")
    replies = [Reply("a b", "neutral"), Reply("c d", "happy"), Reply("a b", "neutral")]
    first = rec.posteriors(replies)
    assert fake.calls == [2] and np.allclose(first[0], first[2])
    rec.posteriors(replies)
    assert fake.calls == [2] and rec.hits == 4
    rec.save_cache()
    again = TextRecognizer(FakeTER(), cache_path=tmp_path / "c.npz", model_id="fake")
    assert np.allclose(again.posteriors(replies), first)
    with pytest.raises(ValueError, match="another recognizer"):
        TextRecognizer(FakeTER(), cache_path=tmp_path / "c.npz", model_id="other")


def test_vector_env_shares_one_batched_recognizer_and_matches_single_envs() -> None:
    fake = FakeTER()
    venv = EmoDialogueVectorEnv(4, recognizer=TextRecognizer(fake), reward="level", estimator=None)
    obs, _ = venv.reset(seed=10)
    single = EmoDialogueEnv(recognizer=TextRecognizer(FakeTER()), reward="level", estimator=None)
    for i in range(4):
        o, _ = single.reset(seed=10 + i)
        assert np.allclose(o, obs[i])
    calls = len(fake.calls)
    venv.step(np.zeros(4, dtype=int))
    assert len(fake.calls) <= calls + 1  # one batched call per step at most
    o, r, *_ = single.step(0)
    obs, rewards, *_ = venv.step(np.zeros(4, dtype=int))
    assert rewards.shape == (4,)


class FakeIEmoNet:
    labels = ("angry", "happy", "neutral", "sad")

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None]] = []

    def predict(self, audio, transcript=None):
        self.seen.append((len(audio), transcript))
        return {"transcript": transcript, "fused": np.array([0.1, 0.6, 0.2, 0.1])}


class FakeVoice:
    def synthesise(self, text: str, emotion: str, voice: int = 0) -> np.ndarray:
        return np.zeros(1600 + len(text), np.float32)


@pytest.mark.parametrize("transcripts", ["provided", "asr"])
def test_bimodal_adapter_with_a_fake_model(transcripts: str) -> None:
    model = FakeIEmoNet()
    rec = BimodalRecognizer(model, FakeVoice(), transcripts=transcripts)
    p = rec.posteriors([Reply("I am happy", "happy")])
    assert np.allclose(p[0], [0.2, 0.6, 0.1, 0.1])  # reordered into FOUR_CLASS
    assert model.seen[0][1] == ("I am happy" if transcripts == "provided" else None)
    env = EmoDialogueEnv(recognizer=rec, estimator=None)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(TypeError):
        fused_posteriors({"transcript": "x"})


class FakeBatchIEmoNet(FakeIEmoNet):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def probabilities(self, audio, texts, *, sampling_rate=None):
        assert len(audio) == len(texts) and sampling_rate == 16_000
        self.batches.append(list(texts))
        return np.tile([0.1, 0.6, 0.2, 0.1], (len(texts), 1))

    def predict(self, audio, transcript=None, sampling_rate=None):
        return super().predict(audio, transcript)


def test_bimodal_adapter_batches_clips_with_transcripts() -> None:
    model = FakeBatchIEmoNet()
    rec = BimodalRecognizer(model, FakeVoice(), transcripts="provided")
    replies = [Reply("I am happy", "happy"), Reply(" ", "sad"), Reply("No way", "angry")]
    p = rec.posteriors(replies)
    assert model.batches == [["I am happy", "No way"]]  # one batch call
    assert [t for _, t in model.seen] == [" "]  # an empty transcript goes alone
    assert np.allclose(p, [0.2, 0.6, 0.1, 0.1])
    rec.posteriors(replies[:1])
    assert len(model.batches) == 1 and rec.hits == 1  # cached


class FakeSpeakerSER:
    class config:  # noqa: N801  (an attribute holder, like SERConfig)
        normalization = "speaker"

    def __init__(self) -> None:
        self.adapted: list[tuple[str, int, int | None]] = []

    def adapt_speaker(self, speaker, clips, *, frames=False, sampling_rate=None):
        self.adapted.append((speaker, len(clips), sampling_rate))


class FakeEnrolIEmoNet(FakeBatchIEmoNet):
    def __init__(self) -> None:
        super().__init__()
        self.ser = FakeSpeakerSER()
        self.speakers: list = []

    def predict(self, audio, transcript=None, sampling_rate=None, speaker=None):
        return super().predict(audio, transcript, sampling_rate)

    def probabilities(self, audio, texts, *, speakers=None, sampling_rate=None):
        self.speakers.append(list(speakers))
        return super().probabilities(audio, texts, sampling_rate=sampling_rate)


def test_bimodal_adapter_enrols_each_voice_once() -> None:
    from emorl.envs.recognition import ENROLMENT_TEXTS

    model = FakeEnrolIEmoNet()
    rec = BimodalRecognizer(model, FakeVoice(), transcripts="provided")
    assert rec.enrol
    rec.posteriors([Reply("I am happy", "happy", 2), Reply("No way", "angry", 5)])
    rec.posteriors([Reply("Fine then", "neutral", 2)])
    n = len(ENROLMENT_TEXTS) * len(FOUR_CLASS)
    assert model.ser.adapted == [("emorl-voice-2", n, 16_000), ("emorl-voice-5", n, 16_000)]
    assert model.speakers == [["emorl-voice-2", "emorl-voice-5"], ["emorl-voice-2"]]
    off = BimodalRecognizer(FakeEnrolIEmoNet(), FakeVoice(), transcripts="provided", enrol=False)
    assert not off.enrol and off.speaker(2) is None
    assert not BimodalRecognizer(FakeBatchIEmoNet(), FakeVoice()).enrol  # no per-speaker SER


def test_reward_wrapper_on_another_env() -> None:
    env = oracle_env()
    wrapped = EmotionRewardWrapper(
        env, OracleRecognizer(0.0), EmotionReward(variant="level"), mode="replace"
    )
    wrapped.reset(seed=0)
    _, reward, _, _, info = wrapped.step(0)
    expected = EmotionReward().f[info["true_emotion"]]
    assert reward == pytest.approx(expected)
    with pytest.raises(ValueError, match="needs an estimator"):
        EmotionRewardWrapper(env, OracleRecognizer(), EmotionReward(variant="eq2"))


def test_shipped_estimator_fits_the_default_scenario() -> None:
    env = EmoDialogueEnv(recognizer="oracle")  # estimator="default"
    assert env.estimator is not None
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    terms = info["reward_terms"]
    assert terms["reward"] == pytest.approx(terms["delta"] - terms["r_est"])
    assert terms["reward"] == terms["eq2"] and env.estimator.recognizer["name"] == "oracle"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_speech_mode_synthesises_16khz_audio_with_emotional_prosody(tmp_path) -> None:
    from emorl.envs.tts import SpeechSynthesiser

    tts = SpeechSynthesiser(cache_dir=tmp_path)
    sad = tts.synthesise("I waited all day for the engineer.", "sad", 2)
    angry = tts.synthesise("I waited all day for the engineer.", "angry", 2)
    assert sad.dtype == np.float32 and np.abs(sad).max() <= 1.0
    assert len(sad) > len(angry)  # sad speech is slower
    assert len(list(tmp_path.glob("*.wav"))) == 2
    assert np.array_equal(
        SpeechSynthesiser(cache_dir=tmp_path).synthesise(
            "I waited all day for the engineer.", "sad", 2
        ),
        sad,
    )
    env = EmoDialogueEnv(recognizer="oracle", estimator=None, speech=True)
    _, info = env.reset(seed=0)
    assert info["sampling_rate"] == 16_000 and info["audio"].ndim == 1


def test_every_reply_is_enumerated_and_the_warm_cache_covers_it(tmp_path) -> None:
    from emorl.envs.cache import all_replies, warm_text_cache
    from emorl.simulator import Scenario, UtteranceBank

    possible = set(all_replies(Scenario.load(), UtteranceBank.load()))
    env = oracle_env()
    env.action_space.seed(0)
    for seed in range(40):
        _, info = env.reset(seed=seed)
        assert info["user_text"] in possible
        done = False
        while not done:
            _, _, te, tr, info = env.step(env.action_space.sample())
            assert info["user_text"] in possible
            done = te or tr
    rec = TextRecognizer(FakeTER(), model_id="fake")
    counts = warm_text_cache(tmp_path / "c.npz", progress=False, recognizer=rec)
    assert counts["replies"] == len(possible) == counts["computed"]
    warm = TextRecognizer(FakeTER(), cache_path=tmp_path / "c.npz", model_id="fake")
    fast = EmoDialogueEnv(recognizer=warm, estimator=None)
    fast.reset(seed=0)
    fast.step(0)
    assert warm.misses == 0 and warm.hits == 2


@pytest.mark.integration
def test_text_mode_with_the_shipped_recognizer_is_deterministic() -> None:
    def run() -> list:
        env = gym.make("EmoDialogue-v1")  # text mode, shipped TER and estimator
        return rollout(env, 3, steps=6)

    first = run()
    assert first == run()
    env = gym.make("EmoDialogue-v1")
    _, info = env.reset(seed=3)
    assert sum(info["posteriors"].values()) == pytest.approx(1.0, abs=1e-5)


def test_observe_sets_posteriors_and_their_change() -> None:
    env = EmoDialogueEnv(recognizer="oracle", estimator=None)
    env.reset(seed=0)
    p = env.posteriors
    assert np.isclose(p.sum(), 1.0) and not env.posterior_change.any()
    q = np.array([0.1, 0.2, 0.3, 0.4])
    obs = env.observe(q)
    assert np.allclose(env.posterior_change, q - p) and np.allclose(env.posteriors, q)
    assert np.array_equal(obs, env.observation()) and env.observation_space.contains(obs)
    env.observe(p, first=True)
    assert not env.posterior_change.any()


def test_text_mode_starts_from_the_shipped_posteriors() -> None:
    from emorl.envs.cache import shipped_posteriors
    from emorl.envs.recognition import shared_text_recognizer

    shipped = shipped_posteriors()
    assert shipped is not None, "shipped posteriors are stale: run emorl env warm-cache"
    recognizer = shared_text_recognizer()
    assert len(recognizer.cache) >= len(shipped[1]) > 9000
    env = gym.make("EmoDialogue-v1")  # text mode
    env.reset(seed=3)
    for act in range(5):
        env.step(act)
    assert recognizer._model is None and recognizer.misses == 0  # never ran the TER
