"""Hyperparameters from YAML, keyed by env id with a ``default`` entry (safe_load only)."""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"
# keys the training loop reads itself; every other key goes to the algorithm's constructor
RUN_KEYS = frozenset(
    {
        "n_envs",
        "vec_env",
        "n_timesteps",
        "policy",
        "policy_kwargs",
        "env_kwargs",
        "eval_freq",
        "eval_episodes",
        "checkpoint_freq",
    }
)
# numeric hyperparameters checked before any training: key -> (minimum, maximum, integer)
NUMERIC: dict[str, tuple[float, float, bool]] = {
    "n_steps": (2, math.inf, True),
    "batch_size": (1, math.inf, True),
    "n_epochs": (1, math.inf, True),
    "buffer_size": (1, math.inf, True),
    "learning_starts": (0, math.inf, True),
    "eval_freq": (0, math.inf, True),
    "eval_episodes": (1, math.inf, True),
    "checkpoint_freq": (0, math.inf, True),
    "learning_rate": (0.0, math.inf, False),
    "gamma": (0.0, 1.0, False),
    "gae_lambda": (0.0, 1.0, False),
    "ent_coef": (0.0, math.inf, False),
    "vf_coef": (0.0, math.inf, False),
    "clip_range": (0.0, math.inf, False),
    "max_grad_norm": (0.0, math.inf, False),
}
# constructor arguments the training loop sets, never the YAML
RESERVED = frozenset({"env", "seed", "tensorboard_log", "verbose", "device", "_init_setup_model"})


def algo_class(algo: str) -> type:
    """The Stable-Baselines3 class of ``algo`` (``ppo``, ``a2c``, ``dqn``)."""
    from stable_baselines3 import A2C, DQN, PPO

    classes = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
    if algo not in classes:
        raise ValueError(f"unknown algo {algo!r}; choose from {sorted(classes)}")
    return classes[algo]


def load_hyperparams(algo: str, env_id: str, path: str | Path | None = None) -> dict[str, Any]:
    """The ``default`` entry of ``<algo>.yml`` updated by the ``env_id`` entry, validated."""
    import yaml

    cls = algo_class(algo)
    path = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algo}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"hyperparameter file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("default", {}), dict):
        raise ValueError(f"{path}: expected a mapping of env id -> hyperparameters")
    config: dict[str, Any] = dict(data.get("default") or {})
    entry = data.get(env_id) or {}
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: entry {env_id!r} must be a mapping")
    config.update(entry)
    allowed = set(inspect.signature(cls.__init__).parameters) - RESERVED - {"self"}
    for key in config:
        if key not in RUN_KEYS and key not in allowed:
            raise ValueError(
                f"{path}: unknown hyperparameter {key!r} for {algo}; "
                f"allowed: {sorted(RUN_KEYS | allowed)}"
            )
    for key in ("n_envs", "n_timesteps"):
        if key in config and (not isinstance(config[key], int) or config[key] < 1):
            raise ValueError(f"{path}: {key} must be a positive integer, got {config[key]!r}")
    for key, (low, high, integer) in NUMERIC.items():
        if key in config:
            check_number(config[key], low, high, integer, f"{path}: {key}")
    if config.get("vec_env", "subproc") not in ("subproc", "dummy"):
        raise ValueError(f"{path}: vec_env must be 'subproc' or 'dummy', got {config['vec_env']!r}")
    config.setdefault("n_envs", 1)
    config.setdefault("n_timesteps", 100_000)
    config.setdefault("policy", "MlpPolicy")
    return config


def check_number(value: Any, low: float, high: float, integer: bool, where: str) -> None:
    """A number in [low, high] (an integer when ``integer``); ``ValueError`` naming ``where``."""
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{where} must be {kind} in [{low:g}, {high:g}], got {value!r}")


def split_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, algorithm keyword arguments)``."""
    run = {k: v for k, v in config.items() if k in RUN_KEYS}
    algo = {k: v for k, v in config.items() if k not in RUN_KEYS}
    if "policy_kwargs" in run:
        algo["policy_kwargs"] = dict(run["policy_kwargs"])
    return run, algo
