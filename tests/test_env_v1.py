"""EmoDialogue-v1: coherent caller turns, system utterances, NLU noise, the simulator
protocol (with a second simulator written here), the vector entry point, input checks."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import emorl  # noqa: F401  (registers EmoDialogue-v1)
from emorl.emotions import FOUR_CLASS
from emorl.envs import EmoDialogueEnv
from emorl.envs.policies import ScriptedSupportAgent
from emorl.envs.recognition import Reply
from emorl.envs.vector import EmoDialogueVectorEnv
from emorl.simulator import Goal, SystemTurn, UserSimulator, UserTurn

INFO_KEYS = {"system_text", "user_text", "true_emotion", "intent", "mood", "posteriors", "turn"}


def oracle(**kwargs) -> EmoDialogueEnv:
    return EmoDialogueEnv(recognizer="oracle", estimator=None, **kwargs)


def play(env, policy, seed: int) -> list[dict]:
    obs, info = env.reset(seed=seed)
    turns = [info]
    done = False
    while not done:
        obs, _, te, tr, info = env.step(policy(obs))
        turns.append(info)
        done = te or tr
    return turns


# --------------------------------------------------------------------------- coherence
def test_each_reply_answers_the_act() -> None:
    env = oracle()
    agent = ScriptedSupportAgent.for_env(env)
    for seed in range(20):
        turns = play(env, agent, seed)
        assert turns[0]["intent"] == "open" and turns[0]["system_text"] == ""
        goal = env.goal
        for info in turns[1:]:
            act = info["act"]
            assert info["system_text"], act
            if act.startswith("ask_") and info["intent"] == "provide_slot":
                slot = act[4:]
                assert goal.values[slot] in info["user_text"]
                prompt = env.scenario.slots[slot].prompt
                assert prompt in info["system_text"]
            if act == "inform_resolution":
                assert info["intent"] in ("thank", "hangup")
            if act == "deliver_bad_news":
                assert info["intent"] in ("react_bad_news", "hangup")
        assert turns[-1]["success"], [(t.get("act"), t["intent"]) for t in turns]


def test_misheard_values_are_corrected_after_confirm() -> None:
    env = oracle(nlu_error=1.0)
    agent = ScriptedSupportAgent.for_env(env)
    seen_correction, successes = False, 0
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        done = False
        while not done:
            act = agent(obs)
            obs, _, te, tr, info = env.step(act)
            name = env.act_names[act]
            if name.startswith("ask_") and info["intent"] == "provide_slot":
                slot = name[4:]
                assert env.state.heard[slot] != env.goal.values[slot]  # always misheard
                assert obs[env.feature_names.index(f"confidence_{slot}")] < 0.91
            if info["intent"] == "confirm_correct":
                seen_correction = True
                assert any(v in info["user_text"] for v in env.goal.values.values())
            done = te or tr
        successes += info["success"]
    assert seen_correction
    # with nlu_error=1 every re-hearing is wrong too: the lookup never finds the record
    assert successes == 0


def test_occasional_mishearing_still_lets_the_scripted_agent_succeed() -> None:
    env = oracle(nlu_error=0.3)
    agent = ScriptedSupportAgent.for_env(env)
    wins = [play(env, agent, seed)[-1]["success"] for seed in range(40)]
    assert np.mean(wins) > 0.7


def test_system_utterance_is_in_info_render_and_the_recognizers_reply() -> None:
    class Spy:
        labels = FOUR_CLASS

        def __init__(self) -> None:
            self.replies: list[Reply] = []

        def posteriors(self, replies):
            self.replies += list(replies)
            return np.full((len(replies), 4), 0.25)

    spy = Spy()
    env = EmoDialogueEnv(recognizer=spy, estimator=None, render_mode="ansi")
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.act_names.index("greet"))
    assert spy.replies[0].system_text == "" and spy.replies[1].system_text == info["system_text"]
    assert info["system_text"] in env.render()


def test_declared_emotion_parameters_are_validated() -> None:
    oracle(lingering=0.0, expected_reaction=2.0).reset(seed=0)
    with pytest.raises(ValueError, match="lingering"):
        oracle(lingering=1.5)
    with pytest.raises(ValueError, match="expected_reaction"):
        oracle(expected_reaction=-1.0)


def test_expected_reaction_makes_bad_news_worse() -> None:
    def negative_share(strength: float) -> float:
        env = oracle(expected_reaction=strength, lingering=0.5)
        agent = ScriptedSupportAgent.for_env(env)
        neg = []
        for seed in range(200):
            for info in play(env, agent, seed):
                if info.get("act") == "deliver_bad_news":
                    neg.append(info["true_emotion"] in ("sad", "angry"))
        return float(np.mean(neg))

    assert negative_share(2.0) > negative_share(0.0) + 0.1


# --------------------------------------------------------------------------- protocol
class ParrotCaller:
    """A second, tiny simulator: neutral, gives every detail, never hangs up."""

    def reset(self, goal: Goal, rng: np.random.Generator) -> UserTurn:
        self.goal = goal
        return UserTurn(goal.problem.description, "open", "neutral", 0.0, 0.0)

    def respond(self, system: SystemTurn, rng: np.random.Generator) -> UserTurn:
        if system.slot in self.goal.values:
            value = self.goal.values[system.slot]
            return UserTurn(
                f"It is {value}.", "provide_slot", "neutral", 0.0, 0.0, {system.slot: value}
            )
        if system.act == "confirm":
            return UserTurn("Yes.", "confirm_yes", "neutral", 0.0, 0.0)
        happy = system.act == "inform_resolution" and system.lookup == "granted"
        return UserTurn(
            "Great." if happy else "Okay.",
            "other",
            "happy" if happy else "neutral",
            0.5 if happy else 0.0,
            0.0,
        )


def test_a_simulator_written_here_plugs_in() -> None:
    from gymnasium.utils.env_checker import check_env

    assert isinstance(ParrotCaller(), UserSimulator)
    env = gym.make("EmoDialogue-v1", simulator=ParrotCaller(), recognizer="oracle", estimator=None)
    check_env(env.unwrapped, skip_render_check=True)
    agent = ScriptedSupportAgent.for_env(env)
    turns = play(env, agent, 5)
    assert turns[-1]["success"]
    assert {t["user_text"] for t in turns} <= {"Yes.", "Great.", "Okay."} | {
        turns[0]["user_text"]
    } | {f"It is {v}." for v in env.unwrapped.goal.values.values()}
    venv = gym.make_vec(
        "EmoDialogue-v1", num_envs=2, simulator=ParrotCaller(), recognizer="oracle", estimator=None
    )
    venv.reset(seed=0)
    assert venv.envs[0].simulator is not venv.envs[1].simulator


def test_a_broken_simulator_gets_a_clear_error() -> None:
    class Broken(ParrotCaller):
        def respond(self, system, rng):
            return UserTurn("", "x", "confused", 0.0, 0.0)

    env = oracle(simulator=Broken())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="simulator.respond returned an empty utterance"):
        env.step(0)
    with pytest.raises(TypeError, match="reset\\(goal, rng\\)"):
        oracle(simulator=object())
    with pytest.raises(ValueError, match="built-in caller"):
        oracle(simulator=ParrotCaller(), lingering=0.3)


# --------------------------------------------------------------------------- contract
def test_make_vec_uses_the_batched_vector_env() -> None:
    venv = gym.make_vec("EmoDialogue-v1", num_envs=3, recognizer="oracle", estimator=None)
    assert isinstance(venv, EmoDialogueVectorEnv) and venv.num_envs == 3
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, *venv.single_observation_space.shape)


def test_fuzz_random_actions_over_many_seeds() -> None:
    env = gym.make("EmoDialogue-v1", recognizer="oracle", nlu_error=0.2)
    for seed in range(150):
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        assert env.observation_space.contains(obs) and set(info) >= INFO_KEYS
        done, steps = False, 0
        while not done:
            obs, reward, te, tr, info = env.step(env.action_space.sample())
            steps += 1
            assert env.observation_space.contains(obs)
            assert math.isfinite(reward) and set(info) >= INFO_KEYS
            assert info["true_emotion"] in FOUR_CLASS and info["user_text"].strip()
            done = te or tr
        assert steps <= 20 and "outcome" in info


def test_same_seed_same_call_and_texts() -> None:
    def texts(seed: int) -> list[str]:
        env = oracle(nlu_error=0.2)
        env.action_space.seed(seed)
        return [
            t["user_text"] + t["system_text"]
            for t in play(env, lambda o: env.action_space.sample(), seed)
        ]

    assert texts(3) == texts(3) and texts(3) != texts(4)


@pytest.mark.parametrize("bad", [1.5, "greet", None, True, np.array([1, 2])])
def test_invalid_actions_are_refused_clearly(bad) -> None:
    env = oracle()
    env.reset(seed=0)
    with pytest.raises(TypeError, match="integer act index"):
        env.step(bad)
    with pytest.raises(ValueError, match="invalid action"):
        env.step(99)
    env.step(np.int64(0))  # numpy integers are fine


def test_vector_env_checks_every_action_before_any_copy_steps() -> None:
    venv = EmoDialogueVectorEnv(3, recognizer="oracle", estimator=None)
    venv.reset(seed=0)
    turns = [env.state.turn for env in venv.envs]
    with pytest.raises(ValueError, match="copy 2: invalid action"):
        venv.step(np.array([0, 0, 99]))
    assert [env.state.turn for env in venv.envs] == turns
    with pytest.raises(ValueError, match="expected 3 actions"):
        venv.step(np.array([0, 0]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"success_bonus": float("nan")}, ValueError, "success_bonus"),
        ({"success_bonus": float("inf")}, ValueError, "success_bonus"),
        ({"hangup_penalty": "1"}, ValueError, "hangup_penalty"),
        ({"max_turns": "20"}, TypeError, "max_turns"),
        ({"max_turns": 2.5}, TypeError, "max_turns"),
        ({"max_turns": 1}, ValueError, "max_turns"),
        ({"nlu_error": 1.5}, ValueError, "nlu_error"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        oracle(**kwargs)


def test_a_garbage_recognizer_cache_is_refused_with_its_name(tmp_path) -> None:
    from emorl.envs.recognition import TextRecognizer

    bad = tmp_path / "cache.npz"
    bad.write_bytes(b"not a numpy archive at all")
    with pytest.raises(ValueError, match="cache.npz: not a readable posteriors cache"):
        TextRecognizer(model_id="x", cache_path=bad)


def test_with_asr_transcripts_slot_values_are_heard_from_the_transcript() -> None:
    class FakeVoice:
        def synthesise(self, text, emotion, voice=0):
            return np.zeros(1600 + len(text), np.float32)

    class MishearingIEmoNet:
        """Transcribes every digit as '0' (a value with digits is misheard)."""

        labels = FOUR_CLASS

        def predict(self, audio, transcript=None):
            assert transcript is None  # ASR mode: the model transcribes
            text = self.spoken.translate(str.maketrans("123456789", "000000000"))
            return {"transcript": text, "fused": np.full(4, 0.25)}

    from emorl.envs.recognition import BimodalRecognizer

    model = MishearingIEmoNet()
    recognizer = BimodalRecognizer(model, FakeVoice(), transcripts="asr", enrol=False)
    original = recognizer._speak

    def speak(items):
        model.spoken = items[0][0]
        return original(items)

    recognizer._speak = speak
    env = EmoDialogueEnv(recognizer=recognizer, estimator=None)
    assert env.slots_from_asr
    env.reset(seed=0)
    heard = {}
    for slot in env.goal.problem.slots:
        env.step(env.act_names.index(f"ask_{slot}"))
        heard[slot] = env.state.heard[slot]
    for slot, value in env.goal.values.items():
        has_digit = any(c in "123456789" for c in value)
        assert (heard[slot] != value) == has_digit, (slot, value, heard[slot])
