"""Stable-Baselines3 vectorised environments built from an env id and its keyword arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

EPISODE_KEYS = ("success", "hangup", "turns")


def env_factory(env_id: str, env_kwargs: dict[str, Any], seed: int) -> Callable[[], gym.Env]:
    """A picklable builder of one monitored environment (for subprocess workers)."""
    return _Factory(env_id, dict(env_kwargs), seed)


class _Factory:
    def __init__(self, env_id: str, env_kwargs: dict[str, Any], seed: int) -> None:
        self.env_id, self.env_kwargs, self.seed = env_id, env_kwargs, seed

    def __call__(self) -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        import emorl  # noqa: F401  (registers EmoDialogue-v1 in a fresh worker)

        env = gym.make(self.env_id, **self.env_kwargs)
        env.action_space.seed(self.seed)
        return Monitor(env, info_keywords=_keywords(env))


def _keywords(env: gym.Env) -> tuple[str, ...]:
    return EPISODE_KEYS if hasattr(env.unwrapped, "episode_summary") else ()


def make_vec_env(
    env_id: str, env_kwargs: dict[str, Any], n_envs: int, seed: int, vec_env: str = "subproc"
) -> Any:
    """``n_envs`` copies: in this process for one, one subprocess each for more (or all in
    this process with ``vec_env="dummy"``). Copy ``i`` is seeded ``seed + i``."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}")
    fns = [env_factory(env_id, env_kwargs, seed + i) for i in range(n_envs)]
    if vec_env not in ("subproc", "dummy"):
        raise ValueError(f"vec_env must be 'subproc' or 'dummy', got {vec_env!r}")
    venv = DummyVecEnv(fns) if n_envs == 1 or vec_env == "dummy" else SubprocVecEnv(fns)
    venv.seed(seed)
    return venv
