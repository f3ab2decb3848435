"""The dialogue state of a live call, observed in the ``EmoDialogue-v1`` layout.

A person cannot hand the agent a simulated goal, so the demo fixes one: a ``problem``
type of the scenario (default: the first) and whether the request can be ``grantable``.
The agent's acts change the state with the environment's own tracker
(:class:`~emorl.envs.tracker.DialogueTracker`), assuming a cooperative caller: "ask for a
slot" counts the slot as answered by the next utterance, "confirm" holds once every slot
is in, and so on. The agent's words come from the environment's system language, and
the observation is built by the environment's own feature code, with the posteriors
IEmoNet heard in place of the simulated recognizer's. Only a ``close`` or ``escalate``
act, or the turn limit, ends a call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emorl.emotions import FOUR_CLASS

ENDING_ACTS = frozenset({"close", "escalate"})


class DemoDialogue:
    """Dialogue state, observation and act bookkeeping for the live demo."""

    def __init__(
        self,
        *,
        problem: str | None = None,
        grantable: bool = True,
        scenario: str | Path | None = None,
        max_turns: int = 20,
    ) -> None:
        from emorl.envs.emo_dialogue import EmoDialogueEnv

        self.env = EmoDialogueEnv(
            recognizer="oracle", estimator=None, scenario=scenario, max_turns=max_turns
        )
        problems = {p.type: p for p in self.env.scenario.problems}
        if problem is None:
            problem = self.env.scenario.problems[0].type
        if problem not in problems:
            raise ValueError(f"unknown problem {problem!r}; the scenario has {sorted(problems)}")
        self.problem = problems[problem]
        self.grantable = bool(grantable)
        self.call = 0
        self.reset()

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.env.feature_names

    @property
    def act_names(self) -> tuple[str, ...]:
        return self.env.act_names

    @property
    def turn(self) -> int:
        return self.env.tracker.state.turn

    def reset(self) -> None:
        """Start a new call: same problem, empty state, uniform posteriors."""
        from emorl.simulator.protocol import Goal

        scenario = self.env.scenario
        values = {slot: scenario.slots[slot].values[0] for slot in self.problem.slots}
        self.goal = Goal(self.problem, values, self.grantable)
        self.env.goal = self.goal
        self.env.tracker.reset(self.goal)
        self.rng = np.random.default_rng(self.call)
        self.env.observe(np.full(len(FOUR_CLASS), 1 / len(FOUR_CLASS)), first=True)
        self.heard = False
        self.last_act: str | None = None
        self.obs_at_act: np.ndarray | None = None
        self.ended: str | None = None
        self.call += 1

    def hear(self, posteriors: np.ndarray) -> np.ndarray:
        """Record the posteriors of the caller's latest utterance; return the observation."""
        obs = self.env.observe(posteriors, first=not self.heard)
        self.heard = True
        return obs

    def observation(self) -> np.ndarray:
        """The ``EmoDialogue-v1`` observation of the current state (float32 in [0, 1])."""
        return self.env.observation()

    def act(self, act: int) -> str:
        """Apply the agent's act to the state; return what the agent says."""
        name = self.act_names[int(act)]
        self.obs_at_act = self.observation()
        tracker = self.env.tracker
        text = self.say(name)
        tracker.update(name, self._cooperative_reply(name), self.rng)
        self.last_act = name
        if name in ENDING_ACTS:
            self.ended = tracker.state.ended or name
        elif tracker.state.turn >= self.env.max_turns:
            self.ended = "turn_limit"
        return text

    def say(self, name: str) -> str:
        """What the agent says for act ``name`` (the environment's system language)."""
        return self.env.system_language.realise(
            name,
            self.rng,
            scenario=self.env.scenario,
            problem=self.problem,
            heard=dict(self.env.tracker.state.heard),
            slot=name[4:] if name.startswith("ask_") else None,
        )

    def _cooperative_reply(self, name: str) -> Any:
        """The reply a cooperative caller gives (its words are the person's, unseen here)."""
        from emorl.simulator.protocol import UserTurn

        slots: dict[str, str] = {}
        intent = "acknowledge_apology"
        if name.startswith("ask_") and name[4:] in self.goal.values:
            slots, intent = {name[4:]: self.goal.values[name[4:]]}, "provide_slot"
        elif name == "confirm":
            intent = "confirm_yes"
        return UserTurn("(spoken)", intent, "neutral", 0.0, 0.0, slots=slots)

    def state_summary(self) -> dict[str, Any]:
        s = self.env.tracker.state
        return {
            "call": self.call,
            "turn": s.turn,
            "problem": self.problem.type,
            "grantable": self.grantable,
            "filled": sorted(s.filled),
            "confirmed": s.confirmed,
            "outcome_delivered": s.outcome_delivered,
        }
