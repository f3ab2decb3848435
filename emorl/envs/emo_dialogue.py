"""``EmoDialogue-v0``: a support-line dialogue rewarded by the emotions heard in the replies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from emorl.emotions import FOUR_CLASS
from emorl.envs.recognition import (
    BimodalRecognizer,
    EmotionRecognizer,
    OracleRecognizer,
    Reply,
    shared_text_recognizer,
)
from emorl.reward import EmotionReward, RewardEstimator
from emorl.simulator import Scenario, UserSimulator, UserTurn, UtteranceBank

RECOGNIZERS = ("text", "bimodal", "oracle")


class EmoDialogueEnv(gym.Env[np.ndarray, np.int64]):
    """A customer-support call whose reward is the caller's recognised emotion.

    ## Description
    The agent plays a support-line employee; a simulated caller (see
    :class:`~emorl.simulator.UserSimulator`) has a problem, slot values the agent must
    collect, patience, politeness, a slow mood that lingers across turns and a momentary
    emotion drawn each turn from an appraisal of the agent's act. Some requests cannot be
    granted: the agent must then deliver the bad news to finish. Each reply is realised
    as text from real dialogue lines and heard by an emotion recognizer; the reward is
    computed from what the recognizer hears (IEmoNet, Heusser et al. 2019, section 3).

    ## Action Space
    ``Discrete(9 + n_slots)``: ``greet``, ``ask_<slot>`` per scenario slot, ``confirm``,
    ``inform_resolution``, ``deliver_bad_news``, ``apologise``, ``show_empathy``,
    ``offer_alternative``, ``escalate``, ``close`` (names in ``env.unwrapped.act_names``).

    ## Observation Space
    ``Box(0, 1)`` of float32 (the true emotion and mood are never in it), in order
    (names in ``env.unwrapped.feature_names``): turn / max_turns; greeted; problem type
    one-hot; per slot "required" and "filled"; all required slots filled; confirmed;
    lookup says grantable; lookup says not grantable; outcome delivered; bad news given;
    alternative offered; per act min(count, 3) / 3; last act one-hot; the recognizer's
    current posteriors (4); their change since the previous turn, mapped to [0, 1] as
    ``(ΔP + 1) / 2`` (4).

    ## Rewards
    :class:`~emorl.reward.EmotionReward` on the recognised posteriors, variant ``reward``:
    ``delta_est`` (eq. 2, default), ``delta_pest`` (eq. 1), ``delta``, ``level`` or
    ``none``; ``f`` defaults to happy +1, neutral 0, sad -0.5, angry -1. Optional shaping:
    ``success_bonus`` on success, ``hangup_penalty`` on a hang-up (both 0 by default).

    ## Episode End
    ``terminated`` when the agent closes the call (success if the outcome, resolution or
    bad news, was delivered), escalates, or the caller hangs up (patience spent or mood
    too low). Truncated after ``max_turns`` turns (20; ``gym.make`` also wraps the
    environment in ``TimeLimit`` with ``max_episode_steps=20``).

    ## Arguments
    ``render_mode`` (``"ansi"``, ``"human"``), ``recognizer`` (``"text"``, ``"bimodal"``,
    ``"oracle"`` or an object with ``posteriors(replies)``), ``reward`` (variant),
    ``emotion_values`` (f), ``estimator`` (``"default"``: the shipped one, a folder, a
    :class:`~emorl.reward.RewardEstimator`, or ``None`` for a zero estimate), ``scenario``
    and ``bank`` (paths; shipped defaults), ``max_turns``, ``oracle_confusion``,
    ``bimodal_model`` and ``transcripts`` (``"provided"``, ``"noisy"``, ``"asr"``) with
    ``wer``, ``speech`` (put synthesised audio in ``info["audio"]``), ``recognizer_cache``
    (an ``.npz`` file of text-mode posteriors, read at start), ``speech_cache`` (a folder
    for synthesised WAV files), ``success_bonus``,
    ``hangup_penalty``.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        recognizer: str | EmotionRecognizer = "text",
        reward: str = "delta_est",
        emotion_values: Mapping[str, float] | None = None,
        estimator: str | Path | RewardEstimator | None = "default",
        scenario: str | Path | Scenario | None = None,
        bank: str | Path | Sequence[str | Path] | UtteranceBank | None = None,
        max_turns: int = 20,
        oracle_confusion: float | Sequence[Sequence[float]] = 0.1,
        bimodal_model: Any = None,
        transcripts: str = "noisy",
        wer: float = 0.06,
        speech: bool = False,
        recognizer_cache: str | Path | None = None,
        speech_cache: str | Path | None = None,
        success_bonus: float = 0.0,
        hangup_penalty: float = 0.0,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        if max_turns < 2:
            raise ValueError(f"max_turns must be at least 2, got {max_turns}")
        self.render_mode = render_mode
        self.scenario = scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)
        self.bank = bank if isinstance(bank, UtteranceBank) else UtteranceBank.load(bank)
        self.simulator = UserSimulator(self.scenario, self.bank)
        self.act_names = self.simulator.acts
        self.max_turns = int(max_turns)
        self.recognizer = make_recognizer(
            recognizer,
            oracle_confusion,
            bimodal_model,
            transcripts,
            wer,
            recognizer_cache,
            speech_cache,
        )
        self.recognizer_name = recognizer if isinstance(recognizer, str) else "custom"
        self.reward_fn = EmotionReward(emotion_values, variant=reward)  # type: ignore[arg-type]
        self.success_bonus, self.hangup_penalty = float(success_bonus), float(hangup_penalty)
        self.speech = speech
        self.speech_cache = speech_cache
        self._voice = getattr(self.recognizer, "voice", None)
        self._build_features()
        self.estimator = _load_estimator(estimator, self.reward_fn, self)
        self.action_space = spaces.Discrete(len(self.act_names))
        self.observation_space = spaces.Box(0.0, 1.0, (len(self.feature_names),), np.float32)
        self._posteriors = np.full(len(FOUR_CLASS), 1 / len(FOUR_CLASS))
        self._delta = np.zeros(len(FOUR_CLASS))
        self._obs = np.zeros(len(self.feature_names), np.float32)
        self._pending: tuple[int, UserTurn, Reply, np.ndarray] | None = None
        self.history: list[dict[str, Any]] = []
        self._episode_return = 0.0

    # ------------------------------------------------------------------ features
    def _build_features(self) -> None:
        slots, problems = self.scenario.slot_names, self.scenario.problems
        names = ["turn", "greeted"]
        names += [f"problem_{p.type}" for p in problems]
        names += [f"required_{s}" for s in slots] + [f"filled_{s}" for s in slots]
        names += ["complete", "confirmed", "grantable", "not_grantable", "outcome_delivered"]
        names += ["bad_news_given", "alternative_offered"]
        names += [f"count_{a}" for a in self.act_names] + [f"last_{a}" for a in self.act_names]
        names += [f"p_{e}" for e in FOUR_CLASS] + [f"dp_{e}" for e in FOUR_CLASS]
        self.feature_names: tuple[str, ...] = tuple(names)
        self._at = {name: i for i, name in enumerate(names)}
        self._act_index = {a: i for i, a in enumerate(self.act_names)}
        self._problem_index = {p.type: i for i, p in enumerate(problems)}

    @property
    def posteriors(self) -> np.ndarray:
        """The recognizer's posteriors of the latest user utterance (a copy)."""
        return self._posteriors.copy()

    @property
    def posterior_change(self) -> np.ndarray:
        """ΔP: the latest posteriors minus the previous turn's (zeros on a call's first)."""
        return self._delta.copy()

    def observe(self, posteriors: np.ndarray, *, first: bool = False) -> np.ndarray:
        """Take the posteriors of the latest user utterance; return the new observation.

        ``first`` marks a call's opening utterance, which has no change to measure.
        """
        previous = self._posteriors
        self._posteriors = np.asarray(posteriors, dtype=np.float64)
        self._delta = np.zeros(len(FOUR_CLASS)) if first else self._posteriors - previous
        return self.observation()

    def observation(self) -> np.ndarray:
        """The observation of the current dialogue state and posteriors (float32 in [0, 1])."""
        sim, at = self.simulator, self._at
        state, goal = sim.state, sim.goal
        assert goal is not None
        x = np.zeros(len(self.feature_names), dtype=np.float32)
        x[0] = min(state.turn / self.max_turns, 1.0)
        x[1] = state.greeted
        x[at[f"problem_{goal.problem.type}"]] = 1.0
        for slot in goal.problem.slots:
            x[at[f"required_{slot}"]] = 1.0
        for slot in state.filled:
            x[at[f"filled_{slot}"]] = 1.0
        complete = set(goal.problem.slots) <= state.filled
        x[at["complete"]] = complete
        x[at["confirmed"]] = state.confirmed
        x[at["grantable"]] = complete and goal.grantable
        x[at["not_grantable"]] = complete and not goal.grantable
        x[at["outcome_delivered"]] = state.outcome_delivered
        x[at["bad_news_given"]] = state.bad_news_given
        x[at["alternative_offered"]] = state.alternative_offered
        for act, count in state.act_counts.items():
            x[at[f"count_{act}"]] = min(count, 3) / 3
        if state.last_act is not None:
            x[at[f"last_{state.last_act}"]] = 1.0
        p0 = at[f"p_{FOUR_CLASS[0]}"]
        x[p0 : p0 + 4] = self._posteriors
        x[p0 + 4 : p0 + 8] = (np.clip(self._delta, -1.0, 1.0) + 1.0) / 2.0
        return x

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        reply = self.begin_reset()
        posteriors = self.recognizer.posteriors([reply])[0]
        return self.finish_reset(posteriors)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reply = self.begin_step(action)
        posteriors = self.recognizer.posteriors([reply])[0]
        return self.finish_step(posteriors)

    def reset_rng(self, seed: int) -> None:
        """Seed the generator as ``reset(seed=seed)`` would, without starting a call."""
        super().reset(seed=seed)

    # Two-phase form: a vectorised environment simulates every copy, recognises all the
    # replies in one batch, then finishes every copy.
    def begin_reset(self) -> Reply:
        turn = self.simulator.reset(self.np_random)
        self.history = []
        self._episode_return = 0.0
        self._pending = (-1, turn, self._reply(turn), self._obs)
        return self._pending[2]

    def finish_reset(self, posteriors: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        assert self._pending is not None
        _, turn, _, _ = self._pending
        self._obs = self.observe(posteriors, first=True)
        info = self._turn_info(turn, None)
        self._log(None, turn, None)
        self._pending = None
        if self.render_mode == "human":
            self.render()
        return self._obs.copy(), info

    def begin_step(self, action: Any) -> Reply:
        if self.simulator.goal is None:
            raise RuntimeError("call reset() before step()")
        if self.simulator.state.ended is not None:
            raise RuntimeError("the episode has ended: call reset()")
        act = int(action)
        if not self.action_space.contains(np.int64(act)):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        obs_before = self._obs
        turn = self.simulator.respond(act, self.np_random)
        self._pending = (act, turn, self._reply(turn), obs_before)
        return self._pending[2]

    def finish_step(
        self, posteriors: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self._pending is not None
        act, turn, _, obs_before = self._pending
        self._pending = None
        previous = self._posteriors
        self._obs = self.observe(posteriors)
        r_est, dp_est = 0.0, None
        if self.estimator is not None and self.reward_fn.needs_estimate:
            dp_est = self.estimator.predict_delta(obs_before, act)
            r_est = float(dp_est @ self.reward_fn.values)
        terms = self.reward_fn(self._posteriors, previous, r_est=r_est, delta_p_est=dp_est)
        state = self.simulator.state
        terminated = state.ended is not None
        reward = terms.reward
        if state.ended == "success":
            reward += self.success_bonus
        elif state.ended in ("hangup", "closed_early"):
            reward -= self.hangup_penalty
        self._episode_return += reward
        info = self._turn_info(turn, terms.as_dict())
        info["act"] = self.act_names[act]
        truncated = not terminated and state.turn >= self.max_turns
        if terminated or truncated:
            info.update(self.episode_summary())
        self._log(act, turn, terms.as_dict(), reward)
        if self.render_mode == "human":
            self.render()
        return self._obs.copy(), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ helpers
    def _reply(self, turn: UserTurn) -> Reply:
        key = f"{int(self.np_random.integers(1 << 31))}"
        return Reply(turn.text, turn.emotion, self.simulator.voice, key)

    def _turn_info(self, turn: UserTurn, terms: dict[str, Any] | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "user_text": turn.text,
            "true_emotion": turn.emotion,
            "intent": turn.intent,
            "mood": {"valence": turn.valence, "arousal": turn.arousal},
            "posteriors": dict(zip(FOUR_CLASS, self._posteriors.tolist(), strict=True)),
            "turn": self.simulator.state.turn,
        }
        if terms is not None:
            info["reward_terms"] = terms
            info["appraisal"] = turn.appraisal.as_dict()
        if self.speech:
            info["audio"] = self.voice.synthesise(turn.text, turn.emotion, self.simulator.voice)
            info["sampling_rate"] = 16_000
        return info

    def episode_summary(self) -> dict[str, Any]:
        """Success, hang-up, final mood and turns of the current call."""
        state, mood = self.simulator.state, self.simulator.mood
        assert mood is not None
        return {
            "episode_end": True,
            "success": state.ended == "success",
            "hangup": state.ended in ("hangup", "closed_early"),
            "outcome": state.ended or "turn_limit",
            "final_mood": {"valence": mood.valence, "arousal": mood.arousal},
            "turns": state.turn,
            "episode_return": self._episode_return,
        }

    @property
    def voice(self) -> Any:
        if self._voice is None:
            from emorl.envs.tts import SpeechSynthesiser

            self._voice = SpeechSynthesiser(cache_dir=self.speech_cache)
        return self._voice

    def _log(self, act: int | None, turn: UserTurn, terms: Any, reward: float = 0.0) -> None:
        self.history.append(
            {
                "act": None if act is None else self.act_names[act],
                "text": turn.text,
                "emotion": turn.emotion,
                "valence": turn.valence,
                "posteriors": self._posteriors.copy(),
                "reward": reward,
            }
        )

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        from emorl.envs.render import render_ansi, render_human

        if self.render_mode == "ansi":
            return render_ansi(self)
        render_human(self)
        return None


def make_recognizer(
    recognizer: str | EmotionRecognizer,
    oracle_confusion: float | Sequence[Sequence[float]],
    bimodal_model: Any,
    transcripts: str,
    wer: float,
    cache: str | Path | None = None,
    speech_cache: str | Path | None = None,
) -> EmotionRecognizer:
    """The recognizer a mode names (text and bimodal models are shared and load lazily)."""
    if not isinstance(recognizer, str):
        if not isinstance(recognizer, EmotionRecognizer):
            raise TypeError("recognizer must be a mode name or have posteriors(replies)")
        return recognizer
    if recognizer == "text":
        return shared_text_recognizer(cache)
    if recognizer == "oracle":
        return OracleRecognizer(oracle_confusion)
    if recognizer == "bimodal":
        from emorl.envs.tts import SpeechSynthesiser

        return BimodalRecognizer(
            bimodal_model if bimodal_model is not None else _default_bimodal_model(),
            SpeechSynthesiser(cache_dir=speech_cache),
            transcripts=transcripts,
            wer=wer,
        )
    raise ValueError(f"unknown recognizer {recognizer!r}; choose from {list(RECOGNIZERS)}")


def _default_bimodal_model() -> Any:
    hint = "pass bimodal_model=<an object with predict(audio, transcript=None)>, e.g. an IEmoNet"
    try:
        from emorl.recognizers.iemonet import IEmoNet
    except ImportError as err:
        raise ImportError(f"recognizer='bimodal' needs IEmoNet: {hint}") from err
    try:
        return IEmoNet.from_pretrained()
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no shipped IEmoNet model ({err}): {hint}") from err


def _load_estimator(
    estimator: str | Path | RewardEstimator | None, reward: EmotionReward, env: EmoDialogueEnv
) -> RewardEstimator | None:
    if estimator is None or not reward.needs_estimate:
        return None
    if isinstance(estimator, RewardEstimator):
        loaded = estimator
    elif estimator == "default":
        from emorl.reward.estimator import DEFAULT_ESTIMATOR_DIR

        if not (DEFAULT_ESTIMATOR_DIR / "config.json").is_file():
            raise FileNotFoundError(
                f"no shipped reward estimator at {DEFAULT_ESTIMATOR_DIR}: train one with "
                "`emorl train reward-estimator` or pass estimator=None"
            )
        loaded = RewardEstimator.from_pretrained()
    else:
        loaded = RewardEstimator.from_pretrained(estimator)
    if loaded.act_names != env.act_names or loaded.obs_dim != len(env.feature_names):
        raise ValueError(
            "the reward estimator was trained for another scenario (acts or observation size "
            "differ): train one for this scenario with `emorl train reward-estimator --scenario`"
        )
    return loaded
