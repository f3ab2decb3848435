"""``EmoDialogue-v1``: a support-line call rewarded by the emotions heard in the replies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    TextRecognizer,
    shared_text_recognizer,
)
from emorl.envs.tracker import DialogueTracker
from emorl.reward import EmotionReward, RewardEstimator
from emorl.reward.estimator import shipped_estimator_dir
from emorl.reward.features import expected_reaction, past_turns
from emorl.simulator import Scenario, UtteranceBank
from emorl.simulator.acts import act_names
from emorl.simulator.protocol import Goal, UserSimulator, UserTurn, check_user_turn

RECOGNIZERS = ("text", "bimodal", "oracle")


class EmoDialogueEnv(gym.Env[np.ndarray, np.int64]):
    """A customer-support call whose reward is the caller's recognised emotion.

    ## Description
    The agent plays a support-line employee. Each call draws a goal from the scenario (a
    problem, the slot values the agent must collect, whether the request can be
    granted); a user simulator plays the caller. The built-in
    :class:`~emorl.simulator.SupportCaller` has patience, politeness, a mood whose
    lingering and reaction to bad news are fitted to DailyDialog and MELD, and words each
    reply for what the agent just did (gives the detail asked for, corrects a misheard
    value, reacts to bad news, accepts or refuses an alternative, complains about
    repetition, thanks, says goodbye) in the emotion it feels. Each system act is said as
    an utterance too. Replies are heard by an emotion recognizer; the reward is computed
    from what it hears (IEmoNet, Heusser et al. 2019, section 3). The system hears slot
    values through an optional noisy understanding step (``nlu_error``), so a misheard
    value must be confirmed and corrected before the back-end lookup finds the record.

    ## Action Space
    ``Discrete(9 + n_slots)``: ``greet``, ``ask_<slot>`` per scenario slot, ``confirm``,
    ``inform_resolution``, ``deliver_bad_news``, ``apologise``, ``show_empathy``,
    ``offer_alternative``, ``escalate``, ``close`` (names in ``env.unwrapped.act_names``).

    ## Observation Space
    ``Box(0, 1)`` of float32 (the true emotion, mood and slot values are never in it), in
    order (names in ``env.unwrapped.feature_names``): turn / max_turns; greeted; problem
    type one-hot; per slot "required", "filled" (a value was heard) and the confidence of
    the heard value; all required slots filled; confirmed; the lookup of the heard values
    says grantable / not grantable / no such record; outcome delivered; bad news given;
    alternative offered; per act min(count, 3) / 3; last act one-hot; the recognizer's
    current posteriors (4); their change since the previous turn, mapped to [0, 1] as
    ``(ΔP + 1) / 2`` (4).

    ## Rewards
    :class:`~emorl.reward.EmotionReward` on the recognised posteriors, variant ``reward``:
    ``eq2`` (eq. 2, default: ``Σ f·ΔP − r_est``, ``r_est`` from a scalar estimator of the
    reward term), ``eq1`` (eq. 1: ``Σ f·(ΔP − ΔP_est)``, a vector estimator of every
    emotion's change), ``eq2_no_badnews`` (eq. 2, an estimator blind to the bad news),
    ``delta``, ``level``, ``level_exempt`` (``level`` without the negative part of ``f``
    on the reply to unavoidable bad news: ``deliver_bad_news`` when the lookup says the
    request cannot be granted, the first time) or ``none``; ``f`` defaults to happy +1,
    neutral 0, sad -0.5, angry -1. The estimator must be of the variant's kind and fitted
    on rollouts of this recognizer (:class:`~emorl.reward.RewardEstimator`). Task terms
    on top: ``success_bonus`` on success, ``- hangup_penalty`` on a hang-up or an early
    close, ``- escalation_cost`` when the agent escalates (all 0 by default); ``info``
    has ``reward_terms`` (every variant's term of the turn) and ``task_reward``.

    ## Episode End
    ``terminated`` when the agent closes the call (success if the outcome, resolution or
    bad news, was delivered), escalates, or the caller hangs up (patience spent or mood
    too low). ``truncated`` after ``max_turns`` agent turns (default 20); the environment
    truncates itself, so ``gym.make(..., max_turns=N)`` truncates at ``N``.

    ## Arguments
    ``render_mode`` (``"ansi"``, ``"human"``); ``recognizer`` (``"text"``, ``"bimodal"``,
    ``"oracle"`` or an object with ``posteriors(replies)``); ``reward`` (variant);
    ``emotion_values`` (f); ``estimator`` (``"default"``: the one shipped for the
    variant's kind and this recognizer, text or oracle; a folder; a
    :class:`~emorl.reward.RewardEstimator`; or ``None`` for a zero estimate);
    ``scenario`` and ``bank`` (paths; shipped defaults); ``simulator`` (any
    :class:`~emorl.simulator.UserSimulator`; default the built-in caller) with
    ``caller_language`` (an object with ``realise(...)``, e.g. an
    :class:`~emorl.simulator.llm_language.LLMCallerLanguage`), ``lingering`` and
    ``expected_reaction`` (the caller's two declared emotion parameters; default: the
    fitted values); ``nlu_error`` (chance a slot value is misheard, default 0);
    ``max_turns``; ``oracle_confusion``; ``bimodal_model`` and ``transcripts``
    (``"provided"``, ``"noisy"``, ``"asr"``: with ``"asr"`` the system hears slot values
    from the transcript) with ``wer``; ``speech`` (synthesised audio in ``info["audio"]``);
    ``recognizer_cache`` (an ``.npz`` of text-mode posteriors); ``speech_cache`` (a
    folder for synthesised WAV files); ``bimodal_cache`` (a folder of bimodal posteriors on
    disk, shared by every process and trial with the same model and voice:
    :class:`~emorl.envs.shards.PosteriorShards`); ``success_bonus``, ``hangup_penalty`` (finite
    numbers) and ``escalation_cost`` (a finite number ≥ 0).

    ## Version History
    * v1: the caller's words answer the agent's act (template language over written
      phrasing and held-out corpus reactions; no line of the recognizer's training
      data), emotion dynamics fitted to DailyDialog and MELD with declared
      ``lingering`` and ``expected_reaction``, system utterances, ``nlu_error`` and a
      heard-value confidence per slot in the observation, pluggable user simulators,
      ``max_turns`` truncation inside the environment, ``gym.make_vec`` through a
      vector entry point. Later additions with the old behaviour as default:
      ``escalation_cost``, the ``level_exempt`` variant, ``bimodal_cache``. Changed
      default (emorl 0.2): the variants ``delta_est``/``delta_pest`` became
      ``eq2``/``eq1`` with separate estimators (``eq2`` fitted to the reward term, ``eq1``
      to every emotion's change), and the default reward is ``eq2`` with the shipped
      estimator for the recognizer.
    * v0: initial version (retired; its results are reproducible from emorl 0.1.0 at
      commit 618af5c).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        recognizer: str | EmotionRecognizer = "text",
        reward: str = "eq2",
        emotion_values: Mapping[str, float] | None = None,
        estimator: str | Path | RewardEstimator | None = "default",
        scenario: str | Path | Scenario | None = None,
        bank: str | Path | Sequence[str | Path] | UtteranceBank | None = None,
        simulator: UserSimulator | None = None,
        caller_language: Any = None,
        system_language: Any = None,
        lingering: float | None = None,
        expected_reaction: float | None = None,
        nlu_error: float = 0.0,
        max_turns: int = 20,
        oracle_confusion: float | Sequence[Sequence[float]] = 0.1,
        bimodal_model: Any = None,
        transcripts: str = "noisy",
        wer: float = 0.06,
        speech: bool = False,
        recognizer_cache: str | Path | None = None,
        speech_cache: str | Path | None = None,
        bimodal_cache: str | Path | None = None,
        success_bonus: float = 0.0,
        hangup_penalty: float = 0.0,
        escalation_cost: float = 0.0,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        if isinstance(max_turns, bool) or not isinstance(max_turns, (int, np.integer)):
            raise TypeError(f"max_turns must be an integer, got {max_turns!r}")
        if max_turns < 2:
            raise ValueError(f"max_turns must be at least 2, got {max_turns}")
        for name, value in (
            ("success_bonus", success_bonus),
            ("hangup_penalty", hangup_penalty),
            ("escalation_cost", escalation_cost),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if escalation_cost < 0:
            raise ValueError(f"escalation_cost must be at least 0, got {escalation_cost!r}")
        self.render_mode = render_mode
        self.scenario = scenario if isinstance(scenario, Scenario) else Scenario.load(scenario)
        self.bank = bank if isinstance(bank, UtteranceBank) else UtteranceBank.load(bank)
        if simulator is None:
            from emorl.simulator.user import SupportCaller

            simulator = SupportCaller(
                self.scenario,
                bank=self.bank,
                language=caller_language,
                lingering=lingering,
                expected_reaction=expected_reaction,
            )
        elif caller_language is not None or lingering is not None or expected_reaction is not None:
            raise ValueError(
                "caller_language, lingering and expected_reaction configure the built-in "
                "caller: configure your own simulator instead"
            )
        if not isinstance(simulator, UserSimulator):
            raise TypeError("simulator must have reset(goal, rng) and respond(system, rng)")
        self.simulator = simulator
        if system_language is None:
            from emorl.simulator.system_language import TemplateSystemLanguage

            system_language = TemplateSystemLanguage()
        self.system_language = system_language
        self.tracker = DialogueTracker(self.scenario, nlu_error=nlu_error)
        self.act_names = act_names(self.scenario.slot_names)
        self.max_turns = int(max_turns)
        self.recognizer = make_recognizer(
            recognizer,
            oracle_confusion,
            bimodal_model,
            transcripts,
            wer,
            recognizer_cache,
            speech_cache,
            bimodal_cache,
        )
        self.recognizer_name = recognizer_name(recognizer)
        # with ASR transcripts the system hears slot values from what Whisper transcribed
        self.slots_from_asr = getattr(self.recognizer, "transcripts", None) == "asr" and callable(
            getattr(self.recognizer, "transcript_of", None)
        )
        self.reward_fn = EmotionReward(emotion_values, variant=reward)  # type: ignore[arg-type]
        self.success_bonus, self.hangup_penalty = float(success_bonus), float(hangup_penalty)
        self.escalation_cost = float(escalation_cost)
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
        self._pending: tuple[int, UserTurn, Reply, np.ndarray, str] | None = None
        self.goal: Goal | None = None
        self.system_text = ""
        self.history: list[dict[str, Any]] = []
        self._episode_return = 0.0
        self.last_transition: Transition | None = None

    # ------------------------------------------------------------------ features
    def _build_features(self) -> None:
        slots, problems = self.scenario.slot_names, self.scenario.problems
        names = ["turn", "greeted"]
        names += [f"problem_{p.type}" for p in problems]
        names += [f"required_{s}" for s in slots] + [f"filled_{s}" for s in slots]
        names += [f"confidence_{s}" for s in slots]
        names += ["complete", "confirmed", "grantable", "not_grantable", "no_record"]
        names += ["outcome_delivered", "bad_news_given", "alternative_offered"]
        names += [f"count_{a}" for a in self.act_names] + [f"last_{a}" for a in self.act_names]
        names += [f"p_{e}" for e in FOUR_CLASS] + [f"dp_{e}" for e in FOUR_CLASS]
        self.feature_names: tuple[str, ...] = tuple(names)
        self._at = {name: i for i, name in enumerate(names)}

    @property
    def state(self) -> Any:
        """The system's view of the call (:class:`~emorl.envs.tracker.DialogueState`)."""
        return self.tracker.state

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
        at, state, goal = self._at, self.tracker.state, self.goal
        assert goal is not None
        x = np.zeros(len(self.feature_names), dtype=np.float32)
        x[0] = min(state.turn / self.max_turns, 1.0)
        x[1] = state.greeted
        x[at[f"problem_{goal.problem.type}"]] = 1.0
        for slot in goal.problem.slots:
            x[at[f"required_{slot}"]] = 1.0
        for slot in state.heard:
            x[at[f"filled_{slot}"]] = 1.0
            x[at[f"confidence_{slot}"]] = state.confidence.get(slot, 1.0)
        lookup = self.tracker.lookup()
        x[at["complete"]] = lookup != "incomplete"
        x[at["confirmed"]] = state.confirmed
        x[at["grantable"]] = lookup == "granted"
        x[at["not_grantable"]] = lookup == "refused"
        x[at["no_record"]] = lookup == "no_record"
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

    def draw_goal(self, rng: np.random.Generator) -> Goal:
        """A caller's goal from the scenario: problem, slot values, grantable or not."""
        problems = self.scenario.problems
        problem = problems[int(rng.integers(len(problems)))]
        values = {
            name: self.scenario.slots[name].values[
                int(rng.integers(len(self.scenario.slots[name].values)))
            ]
            for name in problem.slots
        }
        return Goal(problem, values, bool(rng.random() < problem.grant_probability))

    def check_action(self, action: Any) -> int:
        """The act index of ``action``; a clear error for anything else."""
        if isinstance(action, np.ndarray) and action.ndim == 0:
            action = action.item()
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            raise TypeError(
                f"action must be an integer act index, got {action!r} ({type(action).__name__});"
                f" acts are {list(self.act_names)}"
            )
        if not 0 <= int(action) < len(self.act_names):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        return int(action)

    # Two-phase form: a vectorised environment simulates every copy, recognises all the
    # replies in one batch, then finishes every copy.
    def begin_reset(self) -> Reply:
        self.goal = self.draw_goal(self.np_random)
        self.tracker.reset(self.goal)
        turn = check_user_turn(
            self.simulator.reset(self.goal, self.np_random), FOUR_CLASS, "simulator.reset"
        )
        self.system_text = ""
        self.history = []
        self._episode_return = 0.0
        self.last_transition = None
        self._pending = (-1, turn, self._reply(turn), self._obs, "")
        return self._pending[2]

    def finish_reset(self, posteriors: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        assert self._pending is not None
        _, turn, _, _, _ = self._pending
        self._obs = self.observe(posteriors, first=True)
        info = self._turn_info(turn, None)
        self._log(None, "", turn, None)
        self._pending = None
        if self.render_mode == "human":
            self.render()
        return self._obs.copy(), info

    def begin_step(self, action: Any) -> Reply:
        if self.goal is None:
            raise RuntimeError("call reset() before step()")
        if self.tracker.state.ended is not None or self.tracker.state.turn >= self.max_turns:
            raise RuntimeError("the episode has ended: call reset()")
        act = self.check_action(action)
        name = self.act_names[act]
        obs_before = self._obs
        text = self.system_language.realise(
            name,
            self.np_random,
            scenario=self.scenario,
            problem=self.goal.problem,
            heard=dict(self.tracker.state.heard),
            slot=name[4:] if name.startswith("ask_") else None,
        )
        system = self.tracker.system_turn(name, text)
        turn = check_user_turn(
            self.simulator.respond(system, self.np_random), FOUR_CLASS, "simulator.respond"
        )
        self.system_text = text
        self._pending = (act, turn, self._reply(turn), obs_before, text)
        return self._pending[2]

    def finish_step(
        self, posteriors: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self._pending is not None
        act, turn, reply, obs_before, text = self._pending
        self._pending = None
        transcript = None
        if self.slots_from_asr and turn.slots:
            transcript = self.recognizer.transcript_of(reply)  # type: ignore[attr-defined]
        self.tracker.update(self.act_names[act], turn, self.np_random, transcript)
        previous = self._posteriors
        past_p, past_a = past_turns(self.history, self.act_names)
        self._obs = self.observe(posteriors)
        exempt = bool(expected_reaction(obs_before, act, self.feature_names, self.act_names)[0])
        r_est, dp_est = 0.0, None
        if self.estimator is not None and self.reward_fn.needs_estimate:
            r_est, dp_est = self.estimator.estimate(obs_before, act, past_p, past_a)
        terms = self.reward_fn(
            self._posteriors, previous, r_est=r_est, delta_p_est=dp_est, exempt=exempt
        )
        state = self.tracker.state
        terminated = state.ended is not None
        task = task_reward(
            state.ended,
            success_bonus=self.success_bonus,
            hangup_penalty=self.hangup_penalty,
            escalation_cost=self.escalation_cost,
        )
        reward = terms.reward + task
        self.last_transition = Transition(
            obs=obs_before,
            act=act,
            past_p=past_p,
            past_a=past_a,
            previous=previous,
            posteriors=self._posteriors.copy(),
            exempt=exempt,
            outcome=state.ended,
            appraisal=dict(turn.appraisal),
            valence_before=float(self.history[-1]["valence"]),
            valence=float(turn.valence),
        )
        self._episode_return += reward
        info = self._turn_info(turn, terms.as_dict())
        info["act"] = self.act_names[act]
        info["task_reward"] = task
        truncated = not terminated and state.turn >= self.max_turns
        if terminated or truncated:
            info.update(self.episode_summary())
        self._log(act, text, turn, terms.as_dict(), reward)
        if self.render_mode == "human":
            self.render()
        return self._obs.copy(), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ helpers
    def _reply(self, turn: UserTurn) -> Reply:
        key = f"{int(self.np_random.integers(1 << 31))}"
        voice = int(getattr(self.simulator, "voice", 0))
        return Reply(turn.text, turn.emotion, voice, key, self.system_text)

    def _turn_info(self, turn: UserTurn, terms: dict[str, Any] | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "system_text": self.system_text,
            "user_text": turn.text,
            "true_emotion": turn.emotion,
            "intent": turn.intent,
            "mood": {"valence": turn.valence, "arousal": turn.arousal},
            "posteriors": dict(zip(FOUR_CLASS, self._posteriors.tolist(), strict=True)),
            "turn": self.tracker.state.turn,
            "lookup": self.tracker.lookup(),
        }
        if terms is not None:
            info["reward_terms"] = terms
            info["appraisal"] = dict(turn.appraisal)
        if self.speech:
            voice = int(getattr(self.simulator, "voice", 0))
            info["audio"] = self.voice.synthesise(turn.text, turn.emotion, voice)
            info["sampling_rate"] = 16_000
        return info

    def episode_summary(self) -> dict[str, Any]:
        """Success, hang-up, final mood and turns of the current call."""
        state = self.tracker.state
        last = self.history[-1] if self.history else {}
        return {
            "episode_end": True,
            "success": state.ended == "success",
            "hangup": state.ended in ("hangup", "closed_early"),
            "outcome": state.ended or "turn_limit",
            "bad_news_call": self.goal is not None and not self.goal.grantable,
            "final_mood": {
                "valence": float(last.get("valence", 0.0)),
                "arousal": float(last.get("arousal", 0.0)),
            },
            "turns": state.turn,
            "episode_return": self._episode_return,
        }

    @property
    def voice(self) -> Any:
        if self._voice is None:
            from emorl.envs.tts import SpeechSynthesiser

            self._voice = SpeechSynthesiser(cache_dir=self.speech_cache)
        return self._voice

    def _log(
        self, act: int | None, system_text: str, turn: UserTurn, terms: Any, reward: float = 0.0
    ) -> None:
        self.history.append(
            {
                "act": None if act is None else self.act_names[act],
                "system_text": system_text,
                "text": turn.text,
                "intent": turn.intent,
                "emotion": turn.emotion,
                "valence": turn.valence,
                "arousal": turn.arousal,
                "posteriors": self._posteriors.copy(),
                "appraisal": dict(turn.appraisal),
                "reward": reward,
            }
        )

    def close(self) -> None:
        """Write what the recognizer's disk cache has not written yet."""
        flush = getattr(self.recognizer, "flush", None)
        if callable(flush):
            flush()
        super().close()

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode")
            return None
        from emorl.envs.render import render_ansi, render_human

        if self.render_mode == "ansi":
            return render_ansi(self)
        render_human(self)
        return None


def recognizer_name(recognizer: str | EmotionRecognizer) -> str:
    """The mode a recognizer is: its name, ``text`` for a :class:`TextRecognizer` of the
    shipped model, else ``custom`` (estimators are fitted per recognizer mode)."""
    if isinstance(recognizer, str):
        return recognizer
    if isinstance(recognizer, TextRecognizer) and recognizer.model_id().startswith("ter:"):
        return "text"
    return "custom"


def make_recognizer(
    recognizer: str | EmotionRecognizer,
    oracle_confusion: float | Sequence[Sequence[float]],
    bimodal_model: Any,
    transcripts: str,
    wer: float,
    cache: str | Path | None = None,
    speech_cache: str | Path | None = None,
    bimodal_cache: str | Path | None = None,
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

        if bimodal_model is None:  # the shipped IEmoNet: one per process, like text mode
            key = ("bimodal", transcripts, float(wer), str(speech_cache), str(bimodal_cache))
            if key not in _SHARED_BIMODAL:
                _SHARED_BIMODAL[key] = BimodalRecognizer(
                    _default_bimodal_model(),
                    SpeechSynthesiser(cache_dir=speech_cache),
                    transcripts=transcripts,
                    wer=wer,
                    cache_dir=bimodal_cache,
                )
            return _SHARED_BIMODAL[key]
        return BimodalRecognizer(
            bimodal_model,
            SpeechSynthesiser(cache_dir=speech_cache),
            transcripts=transcripts,
            wer=wer,
            cache_dir=bimodal_cache,
        )
    raise ValueError(f"unknown recognizer {recognizer!r}; choose from {list(RECOGNIZERS)}")


#: The bimodal recognizers of the shipped IEmoNet, shared by every environment in a process
#: (model, enrolled voices and posteriors cache), keyed by transcripts, WER and speech cache.
_SHARED_BIMODAL: dict[tuple[Any, ...], BimodalRecognizer] = {}


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
    kind = reward.estimator_kind
    if estimator is None or kind is None:
        return None
    if isinstance(estimator, RewardEstimator):
        loaded = estimator
    elif isinstance(estimator, str) and estimator == "default":
        folder = shipped_estimator_dir(env.recognizer_name, kind)
        if folder is None or not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"estimator: no shipped {kind} reward estimator for the "
                f"{env.recognizer_name!r} recognizer: fit one with `emorl train "
                f"reward-estimator --kind {kind} --recognizer {env.recognizer_name} --out DIR` "
                "and pass estimator=DIR (emorl train agent --estimator DIR), or "
                "estimator=None for a zero estimate"
            )
        loaded = RewardEstimator.from_pretrained(folder)
    elif isinstance(estimator, (str, Path)):
        loaded = RewardEstimator.from_pretrained(estimator)
    else:
        raise TypeError(
            f"estimator must be 'default', a folder, a RewardEstimator or None, got {estimator!r}"
        )
    loaded.check_fits(
        kind=kind,
        obs_names=env.feature_names,
        act_names=env.act_names,
        recognizer=env.recognizer_name,
        values=reward.values,
    )
    return loaded


def task_reward(
    outcome: str | None,
    *,
    success_bonus: float = 0.0,
    hangup_penalty: float = 0.0,
    escalation_cost: float = 0.0,
) -> float:
    """The task term of a turn that ended the call with ``outcome`` (None: not ended):
    ``+success_bonus`` on success, ``-hangup_penalty`` on a hang-up or early close,
    ``-escalation_cost`` on an escalation."""
    if outcome == "success":
        return float(success_bonus)
    if outcome in ("hangup", "closed_early"):
        return -float(hangup_penalty)
    if outcome == "escalated":
        return -float(escalation_cost)
    return 0.0


@dataclass(frozen=True)
class Transition:
    """The latest step as the estimators and the studies read it.

    ``obs`` before the act, ``act``, the ``past_p``/``past_a`` turns before the latest one
    (:func:`~emorl.reward.features.past_turns`), the posteriors ``previous`` and now,
    ``exempt`` (the act was unavoidable bad news), ``outcome`` (how the call ended at this
    step, None if it goes on), the caller's ``appraisal`` of the act and true mood valence
    before and after it.
    """

    obs: np.ndarray
    act: int
    past_p: np.ndarray
    past_a: np.ndarray
    previous: np.ndarray
    posteriors: np.ndarray
    exempt: bool
    outcome: str | None
    appraisal: dict[str, float]
    valence_before: float
    valence: float
