"""A scripted support agent: the act a competent human would choose, read off the observation."""

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

    def __call__(self, obs: np.ndarray) -> int:
        on = lambda name: bool(obs[self.at[name]] > 0.5)  # noqa: E731
        if not on("greeted") and obs[self.at["turn"]] == 0:
            return self.acts["greet"]
        for slot in self.slots:
            if on(f"required_{slot}") and not on(f"filled_{slot}"):
                return self.acts[f"ask_{slot}"]
        if not on("confirmed") or on("no_record"):
            return self.acts["confirm"]
        if on("grantable") and not on("outcome_delivered"):
            return self.acts["inform_resolution"]
        if on("not_grantable") and not on("outcome_delivered"):
            if obs[self.at["count_show_empathy"]] == 0:
                return self.acts["show_empathy"]
            return self.acts["deliver_bad_news"]
        if on("not_grantable") and not on("alternative_offered"):
            return self.acts["offer_alternative"]
        return self.acts["close"]
