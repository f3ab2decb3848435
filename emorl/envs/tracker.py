"""The system side of a call: what the system has heard, the back-end lookup, the act counts.

The tracker never reads the caller's mind: it sees the caller's utterances through a
noisy understanding step (``nlu_error``: the chance that a slot value is misheard, as in
PyDial's error model, with a confidence score that is informative but not decisive), and
looks the heard values up in the back end, which knows the goal. A misheard value makes
the lookup find no record until the agent confirms and the caller corrects it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from emorl.simulator.protocol import Goal, SystemTurn, UserTurn
from emorl.simulator.scenario import Scenario

#: Acts that end the call whatever the caller says.
ENDING_ACTS = frozenset({"escalate", "close"})


@dataclass
class DialogueState:
    """The system's view of the call (the agent's observation is built from it)."""

    turn: int = 0
    greeted: bool = False
    heard: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    confirmed: bool = False
    outcome_delivered: bool = False
    bad_news_given: bool = False
    alternative_offered: bool = False
    act_counts: dict[str, int] = field(default_factory=dict)
    last_act: str | None = None
    ended: str | None = None  # "success", "closed_early", "hangup", "escalated"

    @property
    def filled(self) -> set[str]:
        return set(self.heard)


class DialogueTracker:
    """Dialogue state, lookup and noisy slot understanding for one scenario."""

    def __init__(self, scenario: Scenario, *, nlu_error: float = 0.0) -> None:
        if not 0.0 <= nlu_error <= 1.0 or not np.isfinite(nlu_error):
            raise ValueError(f"nlu_error must be in [0, 1], got {nlu_error!r}")
        self.scenario = scenario
        self.nlu_error = float(nlu_error)
        self.state = DialogueState()
        self.goal: Goal | None = None

    def reset(self, goal: Goal) -> None:
        self.goal = goal
        self.state = DialogueState()

    # ------------------------------------------------------------------ queries
    @property
    def complete(self) -> bool:
        assert self.goal is not None
        return set(self.goal.problem.slots) <= set(self.state.heard)

    def lookup(self) -> str:
        """What the back end says for the heard values (see ``LOOKUPS``)."""
        goal = self.goal
        assert goal is not None
        if not self.complete:
            return "incomplete"
        if any(self.state.heard[s] != goal.values[s] for s in goal.problem.slots):
            return "no_record"
        return "granted" if goal.grantable else "refused"

    def system_turn(self, act: str, text: str) -> SystemTurn:
        slot = act[4:] if act.startswith("ask_") else None
        return SystemTurn(act, text, slot, dict(self.state.heard), self.lookup())

    # ------------------------------------------------------------------ updates
    def update(
        self,
        act: str,
        user: UserTurn,
        rng: np.random.Generator,
        transcript: str | None = None,
    ) -> None:
        """Apply the system act and what the system understood of the caller's reply.

        ``transcript``: the ASR transcript of the spoken reply; when given, a slot value
        counts as heard only if it can be read off the transcript.
        """
        s = self.state
        lookup = self.lookup()
        s.act_counts[act] = s.act_counts.get(act, 0) + 1
        s.last_act = act
        s.turn += 1
        if user.slots:
            for slot, value in user.slots.items():
                if slot in self.scenario.slots:
                    s.heard[slot], s.confidence[slot] = self.understand(
                        slot, value, rng, transcript
                    )
            s.confirmed = False
        if act == "greet":
            s.greeted = True
        elif act == "confirm" and self.complete and user.intent == "confirm_yes":
            s.confirmed = True
        elif act == "inform_resolution" and lookup == "granted":
            s.outcome_delivered = True
        elif act == "deliver_bad_news":
            s.bad_news_given = True
            if lookup == "refused":
                s.outcome_delivered = True
        elif act == "offer_alternative" and lookup == "refused" and s.outcome_delivered:
            s.alternative_offered = True
        if act == "escalate":
            s.ended = "escalated"
        elif act == "close":
            s.ended = "success" if s.outcome_delivered else "closed_early"
        elif user.ends_call:
            s.ended = "hangup"

    def understand(
        self, slot: str, value: str, rng: np.random.Generator, transcript: str | None = None
    ) -> tuple[str, float]:
        """The value the system hears for ``slot`` and its confidence in [0, 1]."""
        if transcript is not None:
            if _normal(value) in _normal(transcript):
                return value, float(rng.uniform(0.7, 1.0))
            return _misheard(value, self.scenario.slots[slot].values, rng), float(
                rng.uniform(0.2, 0.8)
            )
        if self.nlu_error > 0 and rng.random() < self.nlu_error:
            return _misheard(value, self.scenario.slots[slot].values, rng), float(
                rng.uniform(0.3, 0.9)
            )
        return value, float(rng.uniform(0.6, 1.0)) if self.nlu_error > 0 else 1.0


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _misheard(
    value: str, values: tuple[str, ...] | Mapping[str, str], rng: np.random.Generator
) -> str:
    """A plausible wrong value: another value of the slot, or one character changed."""
    others = [v for v in values if v != value]
    if others and rng.random() < 0.5:
        return others[int(rng.integers(len(others)))]
    chars = list(value)
    positions = [i for i, c in enumerate(chars) if c.isalnum()]
    i = positions[int(rng.integers(len(positions)))] if positions else 0
    pool = "0123456789" if chars and chars[i].isdigit() else "abcdefghijklmnopqrstuvwxyz"
    pool = pool.upper() if chars and chars[i].isupper() else pool
    replacement = [c for c in pool if c != (chars[i] if chars else "")]
    if not chars:
        return replacement[0]
    chars[i] = replacement[int(rng.integers(len(replacement)))]
    return "".join(chars)
