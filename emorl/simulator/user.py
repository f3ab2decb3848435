"""The customer-support caller: goal, patience, politeness, mood, and replies as text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emorl.emotions import FOUR_CLASS
from emorl.simulator.acts import act_names
from emorl.simulator.bank import UtteranceBank
from emorl.simulator.mood import Appraisal, Mood
from emorl.simulator.realise import realise
from emorl.simulator.scenario import Problem, Scenario

#: Distinct simulated voices (espeak-ng variant x base pitch, see emorl.envs.tts).
N_VOICES = 12


@dataclass
class Goal:
    """What this caller wants: a problem, slot values, and whether it can be granted."""

    problem: Problem
    values: dict[str, str]
    grantable: bool


@dataclass
class DialogueState:
    """What has happened in the call so far (the agent sees a summary of it)."""

    turn: int = 0
    greeted: bool = False
    filled: set[str] = field(default_factory=set)
    confirmed: bool = False
    outcome_delivered: bool = False
    bad_news_given: bool = False
    alternative_offered: bool = False
    act_counts: dict[str, int] = field(default_factory=dict)
    last_act: str | None = None
    patience_left: int = 0
    ended: str | None = None  # "success", "closed_early", "hangup", "escalated"


@dataclass(frozen=True)
class UserTurn:
    """One reply: the text, the true emotion, the mood after it and why."""

    text: str
    emotion: str
    emotion_p: np.ndarray
    intent: str
    appraisal: Appraisal
    valence: float
    arousal: float


class UserSimulator:
    """A simulated caller for one scenario. ``reset(rng)`` starts a call, ``respond`` replies."""

    def __init__(self, scenario: Scenario, bank: UtteranceBank) -> None:
        self.scenario = scenario
        self.bank = bank
        self.acts = act_names(scenario.slot_names)
        self.goal: Goal | None = None
        self.state = DialogueState()
        self.mood: Mood | None = None
        self.politeness = 0.0
        self.voice = 0

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: np.random.Generator) -> UserTurn:
        """Draw a caller and a goal; return the caller's opening words."""
        traits = self.scenario.user
        problem = self.scenario.problems[int(rng.integers(len(self.scenario.problems)))]
        values = {
            name: self.scenario.slots[name].values[
                int(rng.integers(len(self.scenario.slots[name].values)))
            ]
            for name in problem.slots
        }
        self.goal = Goal(problem, values, bool(rng.random() < problem.grant_probability))
        self.politeness = float(rng.uniform(*traits.politeness))
        baseline = np.array(
            [rng.uniform(*traits.baseline_valence), rng.uniform(*traits.baseline_arousal)]
        )
        initial = baseline + np.array([rng.uniform(*traits.initial_valence_offset), 0.2])
        self.mood = Mood(
            baseline,
            initial,
            decay=traits.mood_decay,
            gain=traits.mood_gain,
            momentary_gain=traits.momentary_gain,
            temperature=traits.temperature,
            politeness=self.politeness,
        )
        self.voice = int(rng.integers(N_VOICES))
        self.state = DialogueState(
            patience_left=int(rng.integers(traits.patience[0], traits.patience[1] + 1))
        )
        index, p = self.mood.opening(rng)
        return self._turn("open", index, p, Appraisal(), rng, problem=problem.description)

    def respond(self, act: int | str, rng: np.random.Generator) -> UserTurn:
        """Appraise the system act, update mood and state, and reply."""
        if self.goal is None or self.mood is None:
            raise RuntimeError("call reset() before respond()")
        if self.state.ended is not None:
            raise RuntimeError(f"the call has ended ({self.state.ended})")
        name = self.acts[act] if isinstance(act, (int, np.integer)) else act
        if name not in self.acts:
            raise ValueError(f"unknown act {name!r}; acts are {list(self.acts)}")
        appraisal, intent, fill = self.transition(name)
        if appraisal.repetition > 0 or appraisal.ignored > 0:
            self.state.patience_left -= 1 + int(appraisal.repetition >= 1.0)
        index, p = self.mood.react(appraisal, rng)
        if self.state.ended is None and (
            self.state.patience_left <= 0 or self.mood.valence <= self.scenario.user.hangup_valence
        ):
            self.state.ended, intent, fill = "hangup", "hangup", {}
        return self._turn(intent, index, p, appraisal, rng, **fill)

    def transition(self, act: str) -> tuple[Appraisal, str, dict[str, str]]:
        """The dialogue-state half of a turn: appraise ``act``, count it, advance the turn.

        Returns the appraisal, the reply intent and its slot fill; the mood, patience and
        the reply are left to :meth:`respond` (the live demo uses this half alone).
        """
        if self.goal is None or self.mood is None:
            raise RuntimeError("call reset() before transition()")
        count = self.state.act_counts.get(act, 0)
        result = self._appraise(act, count)
        self.state.act_counts[act] = count + 1
        self.state.last_act = act
        self.state.turn += 1
        return result

    # ------------------------------------------------------------------ appraisal
    def _appraise(self, act: str, count: int) -> tuple[Appraisal, str, dict[str, str]]:
        assert self.goal is not None and self.mood is not None
        s, goal = self.state, self.goal
        needed = set(goal.problem.slots)
        complete = needed <= s.filled
        upset = self.mood.valence < -0.1 or s.bad_news_given
        if act == "greet":
            if s.turn == 0:
                s.greeted = True
                return Appraisal(progress=0.3), "acknowledge", {}
            return Appraisal(repetition=1.0), "repeat_complaint", {}
        if act.startswith("ask_"):
            slot = act[4:]
            if slot not in needed:
                return Appraisal(ignored=0.6), "irrelevant", {}
            if slot in s.filled:
                return Appraisal(repetition=1.0), "repeat_complaint", {}
            s.filled.add(slot)
            prompt = self.scenario.slots[slot].prompt
            return (
                Appraisal(progress=0.6),
                "provide_slot",
                {"prompt": prompt, "value": goal.values[slot]},
            )
        if act == "confirm":
            if not complete:
                return Appraisal(ignored=0.5), "confirm_missing", {}
            if s.confirmed:
                return Appraisal(repetition=1.0), "repeat_complaint", {}
            s.confirmed = True
            return Appraisal(progress=0.4), "confirm_yes", {}
        if act == "inform_resolution":
            if complete and goal.grantable and not s.outcome_delivered:
                s.outcome_delivered = True
                return Appraisal(resolution=1.0), "thank", {}
            if s.outcome_delivered:
                return Appraisal(repetition=0.5), "acknowledge", {}
            return Appraisal(ignored=0.8), "not_helpful", {}
        if act == "deliver_bad_news":
            s.bad_news_given = True
            if complete and not goal.grantable and not s.outcome_delivered:
                s.outcome_delivered = True
                return Appraisal(bad_news=1.0), "react_bad_news", {}
            return Appraisal(bad_news=1.0, ignored=0.5), "react_bad_news", {}
        if act == "apologise":
            if count >= 2:
                return Appraisal(repetition=0.5), "acknowledge", {}
            return Appraisal(empathy=0.5 if upset else 0.1), "acknowledge", {}
        if act == "show_empathy":
            if count >= 2:
                return Appraisal(repetition=0.7), "acknowledge", {}
            return Appraisal(empathy=1.0 if upset else 0.3), "acknowledge", {}
        if act == "offer_alternative":
            if s.outcome_delivered and not goal.grantable and not s.alternative_offered:
                s.alternative_offered = True
                return Appraisal(progress=0.8, resolution=0.4), "accept_alternative", {}
            return Appraisal(ignored=0.6), "not_helpful", {}
        if act == "escalate":
            s.ended = "escalated"
            return Appraisal(progress=0.2) if upset else Appraisal(ignored=0.3), "transferred", {}
        if act == "close":
            if s.outcome_delivered:
                s.ended = "success"
                return Appraisal(resolution=0.3), "goodbye", {}
            s.ended = "closed_early"
            return Appraisal(ignored=1.0), "hangup", {}
        raise AssertionError(act)

    def _turn(
        self,
        intent: str,
        index: int,
        p: np.ndarray,
        appraisal: Appraisal,
        rng: np.random.Generator,
        **fill: str,
    ) -> UserTurn:
        assert self.mood is not None
        emotion = FOUR_CLASS[index]
        text = realise(intent, emotion, self.bank, rng, **fill)
        return UserTurn(text, emotion, p, intent, appraisal, self.mood.valence, self.mood.arousal)
