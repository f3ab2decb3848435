"""Score a policy on the caller's true emotions and mood, with confidence intervals.

Metrics per policy over ``episodes`` calls (call ``i`` seeded ``seed + i``, the same
calls for every policy): success rate, hang-up rate (Wilson 95 % intervals), mean final
true mood valence, mean turns and mean true-emotion reward (Student's t 95 %
intervals); success and final mood again over the calls that cannot be granted. The
true-emotion reward of a call is the mean of ``f(e)`` over the caller's replies to the
agent, ``e`` being the emotion the simulator drew (not the recognised one), ``f`` the
environment's emotion values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from emorl.agents import stats

Policy = Callable[[np.ndarray], int]
METRICS = ("success_rate", "hangup_rate", "final_mood", "turns", "true_reward")


def random_policy(env: gym.Env, seed: int = 0) -> Policy:
    """Uniformly random acts."""
    rng = np.random.default_rng(seed)
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    return lambda obs: int(rng.integers(n))


def scripted_policy(env: gym.Env) -> Policy:
    """The hand-written support agent: greet, collect slots, soften bad news, close."""
    from emorl.envs.policies import ScriptedSupportAgent

    return ScriptedSupportAgent.for_env(env)


def model_policy(model: Any) -> Policy:
    """A trained Stable-Baselines3 model, acting deterministically."""
    return lambda obs: int(model.predict(obs, deterministic=True)[0])


def load_model(path: str | Path, env: gym.Env | None = None) -> Any:
    """Load an agent the user named (pickle-bearing formats: trusted files only): an SB3
    ``.zip``, or an RLlib checkpoint folder (its policy network only, see
    :func:`emorl.agents.rllib.load_rllib_policy`). Both offer ``predict(obs, deterministic)``.

    The SB3 algorithm is read from ``run.json`` beside it when present, else tried in turn.
    """
    from emorl.agents.config import algo_class

    path = Path(path)
    if path.is_dir():
        from emorl.agents.rllib import is_rllib_checkpoint, load_rllib_policy

        if not is_rllib_checkpoint(path):
            raise FileNotFoundError(f"{path}: a folder, but not an RLlib checkpoint")
        return load_rllib_policy(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent model not found: {path}")
    meta = _run_meta(path)
    algos = [meta["algo"]] if meta.get("algo") else ["ppo", "a2c", "dqn"]
    last: Exception | None = None
    for algo in algos:
        try:
            return algo_class(algo).load(path, env=None, device="cpu")
        except (ValueError, KeyError, TypeError, AssertionError) as err:
            last = err
    raise ValueError(f"{path}: not a Stable-Baselines3 {'/'.join(algos)} model ({last})")


def _run_meta(model_path: Path) -> dict[str, Any]:
    for folder in (model_path.parent, model_path.parent.parent):
        run = folder / "run.json"
        if run.is_file():
            return json.loads(run.read_text(encoding="utf-8"))
    return {}


def run_episodes(
    env: gym.Env, policy: Policy, episodes: int, seed: int = 10_000
) -> dict[str, list[float]]:
    """Play ``episodes`` calls; per-call success, hang-up, final mood, turns, true reward."""
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    base = env.unwrapped
    values = dict(zip(_labels(), base.reward_fn.values.tolist(), strict=True))  # type: ignore[attr-defined]
    out: dict[str, list[float]] = {k: [] for k in ("success", "hangup", "final_mood", "turns")}
    out["true_reward"], out["bad_news"] = [], []
    for i in range(episodes):
        obs, info = env.reset(seed=seed + i)
        goal = getattr(base, "goal", None)
        out["bad_news"].append(float(goal is not None and not goal.grantable))
        felt: list[float] = []
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy(obs))
            felt.append(values[info["true_emotion"]])
            done = terminated or truncated
        out["success"].append(float(info["success"]))
        out["hangup"].append(float(info["hangup"]))
        out["final_mood"].append(float(info["final_mood"]["valence"]))
        out["turns"].append(float(info["turns"]))
        out["true_reward"].append(float(np.mean(felt)))
    return out


def _labels() -> tuple[str, ...]:
    from emorl.emotions import FOUR_CLASS

    return tuple(FOUR_CLASS)


def summarise(episodes: dict[str, list[float]]) -> dict[str, Any]:
    """Rates with Wilson intervals, means with t intervals; ``bad_news_*``: the same over
    the calls whose request cannot be granted (bad news is unavoidable)."""
    bad = [i for i, flag in enumerate(episodes.get("bad_news", [])) if flag]
    return {
        "episodes": len(episodes["success"]),
        "success_rate": stats.rate([bool(x) for x in episodes["success"]]),
        "hangup_rate": stats.rate([bool(x) for x in episodes["hangup"]]),
        "final_mood": stats.mean(episodes["final_mood"]),
        "turns": stats.mean(episodes["turns"]),
        "true_reward": stats.mean(episodes["true_reward"]),
        "bad_news_episodes": len(bad),
        "bad_news_success_rate": stats.rate([bool(episodes["success"][i]) for i in bad]),
        "bad_news_final_mood": stats.mean([episodes["final_mood"][i] for i in bad]),
    }


def evaluate_policy(
    name: str,
    env_id: str = "EmoDialogue-v1",
    env_kwargs: dict[str, Any] | None = None,
    *,
    model: str | Path | Any | None = None,
    episodes: int = 200,
    seed: int = 10_000,
) -> dict[str, Any]:
    """Evaluate ``name`` (``random``, ``scripted``, or a label for ``model``)."""
    import emorl  # noqa: F401

    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        if model is not None:
            loaded = load_model(model) if isinstance(model, (str, Path)) else model
            policy = model_policy(loaded)
        elif name == "random":
            policy = random_policy(env, seed)
        elif name == "scripted":
            policy = scripted_policy(env)
        else:
            raise ValueError(f"unknown policy {name!r}; choose random, scripted or --model")
        result = summarise(run_episodes(env, policy, episodes, seed))
    finally:
        env.close()
    return {"policy": name, **result}


def load_run_env_kwargs(model_path: str | Path) -> dict[str, Any]:
    """The environment kwargs a model (``.zip`` or RLlib checkpoint folder) was trained with
    (``run.json`` beside it, or one folder up), else {}."""
    path = Path(model_path)
    if not path.exists():
        raise FileNotFoundError(f"agent model not found: {path}")
    return dict(_run_meta(path).get("env_kwargs", {}))
