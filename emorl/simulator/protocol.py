"""The user-simulator protocol: what passes between the environment and a simulated caller.

The environment owns the system side of the call (the goal drawn for the caller, what the
system has heard, the back-end lookup, the act bookkeeping; see
:class:`~emorl.envs.tracker.DialogueTracker`); a user simulator owns the caller: it gets
the goal at the start of a call and a :class:`SystemTurn` (act and utterance) each turn,
and answers with a :class:`UserTurn` (utterance, intent, true emotion, mood, slot values
said, end of call). Any object with ``reset(goal, rng)`` and ``respond(system, rng)``
plugs in as ``gym.make("EmoDialogue-v1", simulator=...)``; the built-in caller is
:class:`~emorl.simulator.user.SupportCaller`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from emorl.simulator.scenario import Problem

#: What a back-end lookup of the heard slot values says.
LOOKUPS = ("incomplete", "no_record", "granted", "refused")


@dataclass(frozen=True)
class Goal:
    """What this caller wants: a problem, its slot values, and whether it can be granted."""

    problem: Problem
    values: Mapping[str, str]
    grantable: bool


@dataclass(frozen=True)
class SystemTurn:
    """One system turn as the caller perceives it.

    ``slot`` is the slot an ``ask_<slot>`` act asks for; ``heard`` the slot values the
    system holds (possibly misheard; ``confirm`` reads them back); ``lookup`` what the
    back end says for them (one of :data:`LOOKUPS`), which decides whether a resolution,
    bad news or an alternative is real.
    """

    act: str
    text: str
    slot: str | None = None
    heard: Mapping[str, str] = field(default_factory=dict)
    lookup: str = "incomplete"


@dataclass(frozen=True)
class UserTurn:
    """One caller turn: the words, why they were said, and the caller's true state.

    ``slots`` are the slot values the caller said in this turn (the truth; the system's
    hearing of them may be noisy). ``ends_call`` is True when the caller hangs up or says
    goodbye. ``emotion_p`` is the distribution the true ``emotion`` was drawn from (None
    when a simulator has none); ``appraisal`` says how the caller appraised the system
    act (dimension -> weight; empty when a simulator has none).
    """

    text: str
    intent: str
    emotion: str
    valence: float
    arousal: float
    slots: Mapping[str, str] = field(default_factory=dict)
    ends_call: bool = False
    emotion_p: np.ndarray | None = None
    intensity: float = 0.0
    appraisal: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class UserSimulator(Protocol):
    """A simulated caller. ``voice`` (an int) may be given for the speech modes."""

    def reset(self, goal: Goal, rng: np.random.Generator) -> UserTurn:
        """Start a call with ``goal``; return the caller's opening words."""
        ...

    def respond(self, system: SystemTurn, rng: np.random.Generator) -> UserTurn:
        """React to the system's turn; return the caller's reply."""
        ...


def check_user_turn(turn: Any, labels: tuple[str, ...], where: str) -> UserTurn:
    """Validate what a (possibly user-written) simulator returned; clear errors."""
    if not isinstance(turn, UserTurn):
        raise TypeError(f"{where} must return an emorl.simulator.UserTurn, got {type(turn)}")
    if not isinstance(turn.text, str) or not turn.text.strip():
        raise ValueError(f"{where} returned an empty utterance")
    if turn.emotion not in labels:
        raise ValueError(f"{where} returned emotion {turn.emotion!r}, not one of {list(labels)}")
    for name in ("valence", "arousal"):
        value = getattr(turn, name)
        if not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ValueError(f"{where} returned a non-finite {name}: {value!r}")
    return turn
