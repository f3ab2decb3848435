"""The demo's agent: the scripted support agent, or a Stable-Baselines3 policy from a .zip.

An SB3 policy must have been trained on ``EmoDialogue-v1`` observations as the environment
emits them (a flat ``Box``): the demo hands it the same layout. Normalisation statistics
kept outside the policy (``VecNormalize``) are not applied.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ALGORITHMS = ("ppo", "a2c", "dqn")


class Agent(Protocol):
    name: str

    def __call__(self, obs: np.ndarray) -> int: ...


class ScriptedAgent:
    """:class:`emorl.envs.policies.ScriptedSupportAgent` under the :class:`Agent` protocol."""

    name = "scripted support agent"

    def __init__(self, feature_names: Sequence[str], act_names: Sequence[str]) -> None:
        from emorl.envs.policies import ScriptedSupportAgent

        self._policy = ScriptedSupportAgent(feature_names, act_names)

    def __call__(self, obs: np.ndarray) -> int:
        return int(self._policy(obs))


class SB3Agent:
    """A saved PPO, A2C or DQN model, acting deterministically."""

    def __init__(self, model: Any, path: Path, algorithm: str) -> None:
        self.model = model
        self.name = f"{algorithm.upper()} policy {path.name}"

    def __call__(self, obs: np.ndarray) -> int:
        action, _ = self.model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
        return int(np.asarray(action).reshape(-1)[0])


def _algorithm_hint(path: Path) -> tuple[str, ...]:
    """Algorithms to try, most likely first (the saved policy class names DQN's)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a Stable-Baselines3 model .zip ({err})") from err
    module = str((data.get("policy_class") or {}).get("__module__", ""))
    return ("dqn", "ppo", "a2c") if "dqn" in module else ("ppo", "a2c", "dqn")


def load_sb3_agent(
    path: str | Path,
    n_features: int,
    n_acts: int,
    algorithm: str = "auto",
) -> SB3Agent:
    """Load ``path`` with stable_baselines3 and check it fits the demo's observation and acts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent model not found: {path}")
    try:
        import stable_baselines3 as sb3
    except ImportError as err:
        raise ImportError("--agent needs stable-baselines3: pip install stable-baselines3") from err
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be auto or one of {ALGORITHMS}, got {algorithm!r}")
    tried = _algorithm_hint(path) if algorithm == "auto" else (algorithm,)
    errors: list[str] = []
    for name in tried:
        try:
            model = getattr(sb3, name.upper()).load(str(path), device="cpu")
            break
        except Exception as err:  # SB3 raises many kinds on a mismatched archive
            errors.append(f"{name.upper()}: {type(err).__name__}: {err}")
    else:
        raise ValueError(f"{path}: cannot load as {', '.join(tried)}: " + "; ".join(errors))
    shape = getattr(model.observation_space, "shape", None)
    n = getattr(model.action_space, "n", None)
    if shape != (n_features,) or n is None or int(n) != n_acts:
        raise ValueError(
            f"{path}: the policy observes {model.observation_space} and acts in "
            f"{model.action_space}, the demo's dialogue has {n_features} features and "
            f"{n_acts} acts: train it on EmoDialogue-v1 with the same scenario"
        )
    return SB3Agent(model, path, name)


def make_agent(
    path: str | Path | None,
    feature_names: Sequence[str],
    act_names: Sequence[str],
    algorithm: str = "auto",
) -> Agent:
    """The scripted agent when ``path`` is None, else the SB3 policy saved there."""
    if path is None:
        return ScriptedAgent(feature_names, act_names)
    return load_sb3_agent(path, len(feature_names), len(act_names), algorithm)
