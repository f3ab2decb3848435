"""What the reward estimators see: feature sets, history, and the expected-reaction rule.

An estimator predicts, for the transition (observation before the act, act), either
``ΔP`` of every emotion (``eq1``) or the reward term ``Σ_e f(e)·ΔP(e)`` (``eq2``). Its
inputs are built here, so that the environment, the rollout logger, the live demo and the
studies build them the same way:

* **Feature sets** ``obs`` (the agent's observation before the act: dialogue state, act
  counts, last act, the latest posteriors and their change) and ``history1`` ..
  ``history3`` (the observation plus, for each of the ``k`` turns before the latest one,
  its posteriors, a "turn exists" flag and the one-hot act that turn answered). The
  observation already holds the latest turn (``P(e|h_{t-1})``, its change and the last
  act); ``historyK`` adds ``P(e|h_{t-1-j})`` and ``a_{t-1-j}`` for ``j = 1..k``, from
  which a linear model can average out a turn's noise and see a mood that lingers.
  ``dialogue`` is the observation without the posteriors and their change: the dialogue
  state alone. An estimator that sees ``P(e|h_{t-1})`` predicts ``ΔP`` largely as the
  mean reversion ``E[P_t] - P_{t-1}``, and then ``Σ f·ΔP - r_est`` is close to
  ``level`` minus a baseline; one on ``dialogue`` cannot do that (it predicts worse).
* **The expected-reaction rule** (:func:`expected_reaction`): an act is *unavoidable bad
  news* when it is ``deliver_bad_news``, the back-end lookup of the heard values says the
  request cannot be granted (``not_grantable``), and no bad news was given before in the
  call (``bad_news_given`` is 0). Read off the observation only. ``level_exempt`` exempts
  the reply to such an act from the negative part of ``f``; the ``eq1``/``eq2``
  estimators fit their own model for such acts (the reaction is expected).
* **Blind to the bad news** (``eq2_no_badnews``): the estimator cannot know that the
  request cannot be granted nor that bad news is or was being delivered. Its features
  drop ``grantable``, ``not_grantable`` (replaced by their sum ``record_found``: a record
  was found, outcome unknown), ``bad_news_given``, ``alternative_offered`` (set only after
  bad news), ``count_deliver_bad_news``, ``last_deliver_bad_news`` and the
  ``deliver_bad_news`` column of every history act one-hot, and it fits no model of its
  own for the bad-news act: the reaction to bad news is as unexpected to it as any other
  change. The posteriors stay (what the caller's emotion was is not bad-news information).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BAD_NEWS_ACT = "deliver_bad_news"
FEATURE_SETS: tuple[str, ...] = ("obs", "history1", "history2", "history3", "dialogue")
#: Posterior features of the observation (``dialogue`` leaves them out).
POSTERIOR_PREFIXES = ("p_", "dp_")
#: Turns of history logged per transition (the deepest feature set).
HISTORY_DEPTH = 3
#: Observation features an estimator blind to the bad news does not see.
BLIND_DROPPED: tuple[str, ...] = (
    "grantable",
    "not_grantable",
    "bad_news_given",
    "alternative_offered",
    f"count_{BAD_NEWS_ACT}",
    f"last_{BAD_NEWS_ACT}",
)
KINDS: tuple[str, ...] = ("eq1", "eq2", "eq2_no_badnews")


def history_of(name: str) -> int:
    """The number of earlier turns of feature set ``name`` (``obs``, ``dialogue`` 0,
    ``historyK`` K); ``ValueError`` for an unknown name."""
    if name in ("obs", "dialogue"):
        return 0
    if name.startswith("history") and name[7:].isdigit() and 1 <= int(name[7:]) <= HISTORY_DEPTH:
        return int(name[7:])
    raise ValueError(f"unknown feature set {name!r}; choose from {list(FEATURE_SETS)}")


def expected_reaction(
    obs: np.ndarray, acts: Any, obs_names: Sequence[str], act_names: Sequence[str]
) -> np.ndarray:
    """Per row, whether the act is unavoidable bad news (see the module docstring)."""
    obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
    acts = np.atleast_1d(np.asarray(acts))
    if BAD_NEWS_ACT not in act_names:
        return np.zeros(len(acts), dtype=bool)
    at = {name: i for i, name in enumerate(obs_names)}
    refused = obs[:, at["not_grantable"]] > 0.5
    first = obs[:, at["bad_news_given"]] < 0.5
    return (acts == list(act_names).index(BAD_NEWS_ACT)) & refused & first


def past_turns(
    history: Sequence[Mapping[str, Any]], act_names: Sequence[str], depth: int = HISTORY_DEPTH
) -> tuple[np.ndarray, np.ndarray]:
    """The ``depth`` turns before the latest one of a call's ``history`` (entries with
    ``posteriors`` and ``act``, oldest first, as the environment logs them): posteriors
    ``(depth, 4)`` (NaN where the call has no such turn) and act indices ``(depth,)``
    (-1 for none: the caller's opening words, or no such turn). Row ``j`` is ``j + 1``
    turns before the latest."""
    past_p = np.full((depth, 4), np.nan)
    past_a = np.full(depth, -1, dtype=np.int64)
    index = {name: i for i, name in enumerate(act_names)}
    for j in range(depth):
        k = len(history) - 2 - j
        if k < 0:
            break
        past_p[j] = np.asarray(history[k]["posteriors"], dtype=np.float64)
        act = history[k].get("act")
        past_a[j] = index[act] if act is not None else -1
    return past_p, past_a


@dataclass(frozen=True)
class FeatureSet:
    """``history`` earlier turns (0..3) on top of the observation; ``blind``: blind to the
    bad news. :meth:`transform` builds the design matrix; :meth:`columns` names it."""

    history: int = 0
    blind: bool = False
    posteriors: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.history <= HISTORY_DEPTH or (self.history and not self.posteriors):
            raise ValueError(f"no feature set with history {self.history}, posteriors "
                             f"{self.posteriors}")  # fmt: skip

    @classmethod
    def named(cls, name: str, *, blind: bool = False) -> FeatureSet:
        return cls(history_of(name), blind, name != "dialogue")

    @property
    def name(self) -> str:
        if not self.posteriors:
            return "dialogue"
        return "obs" if self.history == 0 else f"history{self.history}"

    def _obs_columns(self, obs_names: Sequence[str]) -> list[int]:
        dropped = set(BLIND_DROPPED) if self.blind else set()
        if self.blind:
            missing = [n for n in ("grantable", "not_grantable") if n not in obs_names]
            if missing:
                raise ValueError(f"observation has no {missing}: cannot build a blind feature set")
        return [
            i
            for i, n in enumerate(obs_names)
            if n not in dropped and (self.posteriors or not n.startswith(POSTERIOR_PREFIXES))
        ]

    def _act_columns(self, act_names: Sequence[str]) -> list[int]:
        return [i for i, a in enumerate(act_names) if not (self.blind and a == BAD_NEWS_ACT)]

    def columns(self, obs_names: Sequence[str], act_names: Sequence[str]) -> list[str]:
        """The names of the design matrix's columns."""
        names = [obs_names[i] for i in self._obs_columns(obs_names)]
        if self.blind:
            names.append("record_found")
        for j in range(1, self.history + 1):
            names += [f"past{j}_p_{e}" for e in ("neutral", "happy", "sad", "angry")]
            names.append(f"past{j}_present")
            names += [f"past{j}_act_{act_names[i]}" for i in self._act_columns(act_names)]
        return names

    def transform(
        self,
        obs: np.ndarray,
        past_p: np.ndarray | None,
        past_a: np.ndarray | None,
        obs_names: Sequence[str],
        act_names: Sequence[str],
    ) -> np.ndarray:
        """``(n, columns)`` from observations ``(n, obs)``, past posteriors
        ``(n, ≥history, 4)`` (NaN: no such turn) and past acts ``(n, ≥history)``
        (-1: none); ``past_*`` may be None when ``history`` is 0 or for calls' first turns."""
        obs = np.atleast_2d(np.asarray(obs, dtype=np.float64))
        n = obs.shape[0]
        parts = [obs[:, self._obs_columns(obs_names)]]
        if self.blind:
            at = {name: i for i, name in enumerate(obs_names)}
            parts.append(obs[:, [at["grantable"]]] + obs[:, [at["not_grantable"]]])
        if self.history:
            if past_p is None or past_a is None:
                past_p = np.full((n, self.history, 4), np.nan)
                past_a = np.full((n, self.history), -1, dtype=np.int64)
            past_p = np.asarray(past_p, dtype=np.float64).reshape(n, -1, 4)
            past_a = np.asarray(past_a, dtype=np.int64).reshape(n, -1)
            if past_p.shape[1] < self.history or past_a.shape[1] < self.history:
                raise ValueError(
                    f"feature set {self.name} needs {self.history} earlier turns, "
                    f"got {past_p.shape[1]}"
                )
            keep = self._act_columns(act_names)
            eye = np.vstack([np.eye(len(act_names)), np.zeros((1, len(act_names)))])
            for j in range(self.history):
                p = past_p[:, j]
                present = ~np.isnan(p[:, 0])
                parts += [np.nan_to_num(p, nan=0.0), present[:, None].astype(np.float64)]
                parts.append(eye[past_a[:, j]][:, keep])  # -1 picks the zero row
        return np.concatenate(parts, axis=1)
