"""Fixed support agents: the act a competent human would choose, and the ways to dodge bad
news that a reward might prefer. Each reads the observation only.

=========================  ==============================================================
``scripted``               greet, collect the slots, confirm, resolve, or show empathy,
                           deliver the bad news and offer the alternative; close
``escalate-instead``       the same, but escalates instead of giving the bad news on calls
                           that cannot be granted
``soothe-then-escalate``   the same, but on calls that cannot be granted shows empathy,
                           apologises, then escalates
``skip-the-news``          the same, but never delivers the bad news: on calls that cannot
                           be granted shows empathy, offers the alternative, closes
``pad-with-courtesy``      the scripted agent plus courtesy: an apology after the greeting,
                           empathy before the outcome, an apology before closing
=========================  ==============================================================

The first three branches of every agent are the scripted agent's, so on a call that can
be granted all but ``pad-with-courtesy`` say exactly what the scripted agent says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ScriptedSupportAgent:
    """Greet, collect the required slots, confirm (again while the lookup finds no record,
    i.e. a value was misheard), then resolve or break the bad news with empathy and an
    alternative, and close. Uses only the observation."""

    def __init__(self, feature_names: Sequence[str], act_names: Sequence[str]) -> None:
        self.at = {name: i for i, name in enumerate(feature_names)}
        self.acts = {name: i for i, name in enumerate(act_names)}
        self.slots = [a[4:] for a in act_names if a.startswith("ask_")]

    @classmethod
    def for_env(cls, env: object) -> ScriptedSupportAgent:
        base = getattr(env, "unwrapped", env)
        return cls(base.feature_names, base.act_names)  # type: ignore[attr-defined]

    def on(self, obs: np.ndarray, name: str) -> bool:
        """Whether the binary feature ``name`` is set."""
        return bool(obs[self.at[name]] > 0.5)

    def used(self, obs: np.ndarray, act: str) -> bool:
        """Whether ``act`` was used in this call."""
        return bool(obs[self.at[f"count_{act}"]] > 0)

    def __call__(self, obs: np.ndarray) -> int:
        on = lambda name: self.on(obs, name)  # noqa: E731
        if not on("greeted") and obs[self.at["turn"]] == 0:
            return self.acts["greet"]
        for slot in self.slots:
            if on(f"required_{slot}") and not on(f"filled_{slot}"):
                return self.acts[f"ask_{slot}"]
        if not on("confirmed") or on("no_record"):
            return self.acts["confirm"]
        if on("not_grantable"):
            return self.refused(obs)
        if on("grantable") and not on("outcome_delivered"):
            return self.acts["inform_resolution"]
        return self.acts["close"]

    def refused(self, obs: np.ndarray) -> int:
        """The act on a confirmed call whose request cannot be granted."""
        if not self.on(obs, "outcome_delivered"):
            if not self.used(obs, "show_empathy"):
                return self.acts["show_empathy"]
            return self.acts["deliver_bad_news"]
        if not self.on(obs, "alternative_offered"):
            return self.acts["offer_alternative"]
        return self.acts["close"]


class EscalateInsteadAgent(ScriptedSupportAgent):
    """The scripted agent, but it escalates instead of delivering the bad news."""

    def refused(self, obs: np.ndarray) -> int:
        return self.acts["escalate"]


class SootheThenEscalateAgent(ScriptedSupportAgent):
    """The scripted agent, but on a refused request: empathy, an apology, then escalate."""

    def refused(self, obs: np.ndarray) -> int:
        for act in ("show_empathy", "apologise"):
            if not self.used(obs, act):
                return self.acts[act]
        return self.acts["escalate"]


class SkipTheNewsAgent(ScriptedSupportAgent):
    """The scripted agent, but it never delivers the bad news: empathy, the alternative
    (without the news), close."""

    def refused(self, obs: np.ndarray) -> int:
        for act in ("show_empathy", "offer_alternative"):
            if not self.used(obs, act):
                return self.acts[act]
        return self.acts["close"]


class PadWithCourtesyAgent(ScriptedSupportAgent):
    """The scripted agent plus courtesy acts: an apology after the greeting, empathy
    before the outcome (resolution or bad news), an apology before closing."""

    def __call__(self, obs: np.ndarray) -> int:
        act = super().__call__(obs)
        apologies = round(float(obs[self.at["count_apologise"]]) * 3)
        if act != self.acts["greet"] and apologies == 0:
            return self.acts["apologise"]
        if act == self.acts["inform_resolution"] and not self.used(obs, "show_empathy"):
            return self.acts["show_empathy"]
        if act == self.acts["close"] and apologies == 1:
            return self.acts["apologise"]
        return act


#: Name -> fixed policy class (``scripted`` first).
FIXED_POLICIES: dict[str, type[ScriptedSupportAgent]] = {
    "scripted": ScriptedSupportAgent,
    "escalate-instead": EscalateInsteadAgent,
    "soothe-then-escalate": SootheThenEscalateAgent,
    "skip-the-news": SkipTheNewsAgent,
    "pad-with-courtesy": PadWithCourtesyAgent,
}
#: The fixed policies that avoid telling the caller the request cannot be granted.
AVOIDING_THE_NEWS: tuple[str, ...] = ("escalate-instead", "soothe-then-escalate", "skip-the-news")


def fixed_policy(name: str, env: object) -> ScriptedSupportAgent:
    """The fixed policy ``name`` (:data:`FIXED_POLICIES`) for ``env``'s observation."""
    if name not in FIXED_POLICIES:
        raise ValueError(f"unknown fixed policy {name!r}; choose from {list(FIXED_POLICIES)}")
    return FIXED_POLICIES[name].for_env(env)  # type: ignore[return-value]
