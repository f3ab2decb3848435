"""The dialogue state of a live call, observed in the ``EmoDialogue-v0`` layout.

A person cannot hand the agent a simulated goal, so the demo fixes one: a ``problem``
type of the scenario (default: the first) and whether the request can be ``grantable``.
The agent's acts change the state with the environment's own rules (the simulator's
appraisal step, so "ask for a slot" counts the slot as answered by the next utterance,
"confirm" only holds once every slot is in, ...), and the observation is built by the
environment's own feature code, with the posteriors IEmoNet heard in place of the
simulated recognizer's. The simulated caller's mood and patience play no part: only a
``close`` or ``escalate`` act, or the turn limit, ends a call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emorl.emotions import FOUR_CLASS

#: What the agent says for each act (``ask_<slot>`` uses the slot's prompt).
ACT_TEXT: dict[str, str] = {
    "greet": "Hello, thank you for calling. How can I help you today?",
    "confirm": "Let me confirm: I have all your details now. Is that right?",
    "inform_resolution": "Good news: I have fixed that for you, it is all sorted.",
    "deliver_bad_news": "I am sorry, but I cannot do that for you this time.",
    "apologise": "I apologise for the trouble.",
    "show_empathy": "I understand how frustrating this must be for you.",
    "offer_alternative": "What I can do instead is offer you a credit on your next bill.",
    "escalate": "Let me transfer you to my supervisor.",
    "close": "Thank you for calling. Have a nice day. Goodbye.",
}
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
        return self.env.simulator.state.turn

    def reset(self) -> None:
        """Start a new call: same problem, empty state, uniform posteriors."""
        from emorl.simulator.user import DialogueState, Goal

        sim = self.env.simulator
        sim.reset(np.random.default_rng(self.call))  # a mood for the appraisal step only
        values = {slot: sim.scenario.slots[slot].values[0] for slot in self.problem.slots}
        sim.goal = Goal(self.problem, values, self.grantable)
        sim.state = DialogueState(patience_left=1 << 30)
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
        """The ``EmoDialogue-v0`` observation of the current state (float32 in [0, 1])."""
        return self.env.observation()

    def act(self, act: int) -> str:
        """Apply the agent's act to the state; return what the agent says."""
        name = self.act_names[int(act)]
        self.obs_at_act = self.observation()
        sim = self.env.simulator
        sim.transition(name)  # the environment's state transition for this act
        self.last_act = name
        if name in ENDING_ACTS:
            self.ended = sim.state.ended or name
        elif sim.state.turn >= self.env.max_turns:
            self.ended = "turn_limit"
        return self.say(name)

    def say(self, name: str) -> str:
        if name.startswith("ask_"):
            return f"Could you tell me your {self.env.scenario.slots[name[4:]].prompt}, please?"
        return ACT_TEXT[name]

    def state_summary(self) -> dict[str, Any]:
        s = self.env.simulator.state
        return {
            "call": self.call,
            "turn": s.turn,
            "problem": self.problem.type,
            "grantable": self.grantable,
            "filled": sorted(s.filled),
            "confirmed": s.confirmed,
            "outcome_delivered": s.outcome_delivered,
        }
