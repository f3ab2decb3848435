"""The demo's agent: the scripted support agent, or a Stable-Baselines3 policy from a .zip.

An SB3 policy must have been trained on ``EmoDialogue-v1`` observations as the environment
emits them (a flat ``Box``): the demo hands it the same layout. Normalisation statistics
kept outside the policy (``VecNormalize``) are not applied.

Safety: an SB3 ``.zip`` holds pickled Python objects (in its ``data`` JSON, base64
encoded), and ``PPO.load`` unpickles them, which can run any code the file's author
wrote. By default the demo runs none of it: it reads ``policy.pth`` with
``torch.load(weights_only=True)``, reads the ``data`` JSON as plain JSON (its
``policy_kwargs`` and spaces, never a ``:serialized:`` field), and builds an SB3
``MlpPolicy`` for the demo's own observation and action spaces. Files this cannot
rebuild (custom policies or feature extractors, unknown options) are refused, naming
``trust_pickle`` (``--trust-agent-pickle``), which loads them with ``<Algo>.load``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ALGORITHMS = ("ppo", "a2c", "dqn")

#: What the refusal of the safe loader tells the user to do.
TRUST_HINT = (
    "if you trust this file, pass --trust-agent-pickle (Python: trust_pickle=True) to load "
    "it with Stable-Baselines3's own loader, which runs the pickled code inside it"
)

#: Activations the safe loader rebuilds (torch.nn classes without parameters).
SAFE_ACTIVATIONS = frozenset(
    {
        "CELU",
        "ELU",
        "GELU",
        "Hardswish",
        "Hardtanh",
        "Identity",
        "LeakyReLU",
        "Mish",
        "ReLU",
        "ReLU6",
        "SELU",
        "Sigmoid",
        "SiLU",
        "Softplus",
        "Softsign",
        "Tanh",
    }
)
_ACTIVATION = re.compile(r"^<class 'torch\.nn\.modules\.activation\.(\w+)'>$")
_FLATTEN = "<class 'stable_baselines3.common.torch_layers.FlattenExtractor'>"
#: policy_kwargs that do not change an MlpPolicy's inference on a flat Box.
_IGNORED_KWARGS = frozenset(
    {"optimizer_class", "optimizer_kwargs", "ortho_init", "normalize_images", "log_std_init"}
)
_POLICY_MODULES = {
    "stable_baselines3.common.policies": "actor_critic",
    "stable_baselines3.dqn.policies": "dqn",
}


class AgentPickleRequired(ValueError):
    """The safe loader cannot rebuild the policy from its weights and plain JSON."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path}: cannot load the policy from its weights alone: {reason}; " + TRUST_HINT
        )


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
    """A saved PPO, A2C or DQN policy (or whole model), acting deterministically.

    ``model`` is anything with SB3's ``predict(obs, deterministic=True)``: the policy the
    safe loader built, or the algorithm ``<Algo>.load`` returned.
    """

    def __init__(self, model: Any, path: Path, algorithm: str) -> None:
        self.model = model
        self.algorithm = algorithm
        self.name = f"{algorithm.upper()} policy {path.name}"

    def __call__(self, obs: np.ndarray) -> int:
        action, _ = self.model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)
        return int(np.asarray(action).reshape(-1)[0])


def _read_data(path: Path) -> dict[str, Any]:
    """The archive's ``data`` JSON, as JSON (its pickled fields stay base64 strings)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a Stable-Baselines3 model .zip ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a Stable-Baselines3 model .zip (data is not an object)")
    return data


def _algorithm_hint(path: Path) -> tuple[str, ...]:
    """Algorithms to try, most likely first (the saved policy class names DQN's)."""
    data = _read_data(path)
    module = str((data.get("policy_class") or {}).get("__module__", ""))
    return ("dqn", "ppo", "a2c") if "dqn" in module else ("ppo", "a2c", "dqn")


def _read_weights(path: Path) -> dict[str, Any]:
    """``policy.pth``, loaded with ``torch.load(weights_only=True)`` (no pickled code runs)."""
    import torch

    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read("policy.pth")
    except KeyError as err:
        raise AgentPickleRequired(path, "the archive has no policy.pth") from err
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, ... on odd files
        raise AgentPickleRequired(
            path, f"policy.pth is not a plain state dict ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AgentPickleRequired(path, "policy.pth is not a state dict of tensors")
    return state


def _linear_layers(state: dict[str, Any], prefix: str) -> list[tuple[int, int]]:
    """``(out, in)`` of the Linear layers ``prefix{0,2,4,...}`` (activations between them)."""
    indices = sorted(
        int(key[len(prefix) :].split(".")[0])
        for key in state
        if key.startswith(prefix) and key.endswith(".weight")
    )
    if indices != list(range(0, 2 * len(indices), 2)):
        raise ValueError(f"layers {prefix}{indices} are not Linear layers with activations between")
    shapes = []
    for i in indices:
        weight = state[f"{prefix}{i}.weight"]
        if weight.ndim != 2:
            raise ValueError(f"{prefix}{i}.weight is not a Linear weight")
        shapes.append((int(weight.shape[0]), int(weight.shape[1])))
    return shapes


def _spaces_in_json(data: dict[str, Any]) -> tuple[tuple[int, ...] | None, int | None]:
    """The saved observation shape and number of actions, from the plain JSON fields."""
    obs, act = data.get("observation_space") or {}, data.get("action_space") or {}
    shape = obs.get("_shape") if "Box" in str(obs.get(":type:", "")) else None
    n = act.get("n") if "Discrete" in str(act.get(":type:", "")) else None
    try:
        return (
            tuple(int(s) for s in shape) if isinstance(shape, list) else None,
            int(n) if n is not None else None,
        )
    except (TypeError, ValueError):
        return None, None


def _policy_kwargs(path: Path, data: dict[str, Any], family: str) -> dict[str, Any]:
    """``net_arch`` and ``activation_fn`` from the JSON's plain fields (never unpickled).

    A pickled ``policy_kwargs`` keeps its first-level items in plain JSON beside the pickle
    (classes as their ``str``): those are read; the pickle is not.
    """
    import torch

    raw = data.get("policy_kwargs") or {}
    if not isinstance(raw, dict):
        raise AgentPickleRequired(path, "policy_kwargs is not a JSON object")
    raw = {k: v for k, v in raw.items() if k not in (":type:", ":serialized:")}
    kwargs: dict[str, Any] = {}
    unknown = sorted(
        set(raw)
        - _IGNORED_KWARGS
        - {
            "net_arch",
            "activation_fn",
            "features_extractor_class",
            "features_extractor_kwargs",
            "share_features_extractor",
        }
    )
    if unknown:
        raise AgentPickleRequired(path, f"policy_kwargs {unknown} are not rebuilt safely")
    extractor = raw.get("features_extractor_class")
    if extractor is not None and extractor != _FLATTEN:
        raise AgentPickleRequired(path, f"the features extractor {extractor} is not rebuilt")
    if raw.get("features_extractor_kwargs"):
        raise AgentPickleRequired(path, "features_extractor_kwargs are not rebuilt")
    if "activation_fn" in raw:
        match = _ACTIVATION.match(str(raw["activation_fn"]))
        if match is None or match.group(1) not in SAFE_ACTIVATIONS:
            raise AgentPickleRequired(path, f"the activation {raw['activation_fn']} is not rebuilt")
        kwargs["activation_fn"] = getattr(torch.nn, match.group(1))
    if family == "actor_critic" and isinstance(raw.get("share_features_extractor"), bool):
        kwargs["share_features_extractor"] = raw["share_features_extractor"]
    net_arch = raw.get("net_arch")
    if isinstance(net_arch, list) and all(isinstance(n, int) for n in net_arch):
        kwargs["net_arch"] = net_arch
    elif (
        family == "actor_critic"
        and isinstance(net_arch, dict)
        and set(net_arch) == {"pi", "vf"}
        and all(isinstance(n, int) for layer in net_arch.values() for n in layer)
    ):
        kwargs["net_arch"] = {"pi": list(net_arch["pi"]), "vf": list(net_arch["vf"])}
    elif net_arch is not None:
        raise AgentPickleRequired(path, f"net_arch {net_arch!r} is not rebuilt")
    return kwargs


def _net_arch_from_weights(state: dict[str, Any], family: str) -> Any:
    """The hidden layer sizes, read from the tensors' shapes."""
    if family == "dqn":
        return [out for out, _ in _linear_layers(state, "q_net.q_net.")[:-1]]
    return {
        "pi": [out for out, _ in _linear_layers(state, "mlp_extractor.policy_net.")],
        "vf": [out for out, _ in _linear_layers(state, "mlp_extractor.value_net.")],
    }


def _family(path: Path, data: dict[str, Any], state: dict[str, Any]) -> str:
    module = str((data.get("policy_class") or {}).get("__module__", ""))
    family = _POLICY_MODULES.get(module)
    if family is None:
        raise AgentPickleRequired(path, f"the policy class comes from {module or 'nowhere'!r}")
    wanted = (
        ("q_net.q_net.", "q_net_target.q_net.")
        if family == "dqn"
        else ("mlp_extractor.", "action_net.", "value_net.")
    )
    if not all(any(key.startswith(p) for key in state) for p in wanted):
        raise AgentPickleRequired(path, "policy.pth does not hold an MlpPolicy's layers")
    return family


def load_policy_safely(
    path: str | Path,
    n_features: int,
    n_acts: int,
    algorithm: str = "auto",
    observation_space: Any = None,
) -> SB3Agent:
    """Rebuild the saved MlpPolicy from ``policy.pth`` and the plain JSON; no pickle runs.

    ``observation_space`` is the demo's (default: ``Box(0, 1, (n_features,), float32)``,
    the ``EmoDialogue-v1`` layout); the action space is ``Discrete(n_acts)``. Raises
    :class:`AgentPickleRequired` when the file needs SB3's pickle-based loader.
    """
    import torch
    from gymnasium import spaces

    path = Path(path)
    data = _read_data(path)
    state = _read_weights(path)
    family = _family(path, data, state)
    detected = "dqn" if family == "dqn" else "ppo" if "clip_range" in data else "a2c"
    if algorithm == "auto":
        algorithm = detected
    elif (algorithm == "dqn") != (family == "dqn"):
        raise ValueError(f"{path}: the file holds a {detected.upper()} policy, not {algorithm}")
    if data.get("use_sde"):
        raise AgentPickleRequired(path, "gSDE policies are not rebuilt")
    try:
        prefix = "q_net.q_net." if family == "dqn" else "mlp_extractor.policy_net."
        layers = _linear_layers(state, prefix)
        head = layers[-1] if family == "dqn" else tuple(state["action_net.weight"].shape)
        first = layers[0] if layers else head
    except (KeyError, ValueError, IndexError) as err:
        raise AgentPickleRequired(path, f"unexpected layers in policy.pth ({err})") from err
    shape, n = _spaces_in_json(data)
    shape = shape if shape is not None else (int(first[1]),)
    n = n if n is not None else int(head[0])
    if shape != (n_features,) or n != n_acts or int(first[1]) != n_features or head[0] != n_acts:
        raise ValueError(
            f"{path}: the policy observes Box{shape} and acts in Discrete({n}), the demo's "
            f"dialogue has {n_features} features and {n_acts} acts: train it on "
            "EmoDialogue-v1 with the same scenario"
        )
    kwargs = _policy_kwargs(path, data, family)
    kwargs.setdefault("net_arch", _net_arch_from_weights(state, family))
    if observation_space is None:
        observation_space = spaces.Box(0.0, 1.0, (n_features,), np.float32)
    action_space = spaces.Discrete(n_acts)
    if family == "dqn":
        from stable_baselines3.dqn.policies import DQNPolicy

        policy = DQNPolicy(observation_space, action_space, lambda _: 0.0, **kwargs)
    else:
        from stable_baselines3.common.policies import ActorCriticPolicy

        policy = ActorCriticPolicy(
            observation_space, action_space, lambda _: 0.0, ortho_init=False, **kwargs
        )
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise AgentPickleRequired(path, f"the weights do not fit an MlpPolicy ({err})") from err
    policy.set_training_mode(False)
    policy.to(torch.device("cpu"))
    return SB3Agent(policy, path, algorithm)


def _load_with_pickle(path: Path, n_features: int, n_acts: int, algorithm: str) -> SB3Agent:
    """``<Algo>.load``: unpickles the file's objects (runs whatever code they hold)."""
    import stable_baselines3 as sb3

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


def load_sb3_agent(
    path: str | Path,
    n_features: int,
    n_acts: int,
    algorithm: str = "auto",
    *,
    trust_pickle: bool = False,
    observation_space: Any = None,
) -> SB3Agent:
    """Load the SB3 policy at ``path``, checked against the demo's observation and acts.

    By default only its weights and plain JSON are read (:func:`load_policy_safely`).
    ``trust_pickle=True`` uses ``<Algo>.load`` instead, which runs the pickled code in
    the file: only for files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent model not found: {path}")
    try:
        import stable_baselines3  # noqa: F401
    except ImportError as err:
        raise ImportError("--agent needs stable-baselines3: pip install stable-baselines3") from err
    if algorithm != "auto" and algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be auto or one of {ALGORITHMS}, got {algorithm!r}")
    if trust_pickle:
        return _load_with_pickle(path, n_features, n_acts, algorithm)
    return load_policy_safely(path, n_features, n_acts, algorithm, observation_space)


def make_agent(
    path: str | Path | None,
    feature_names: Sequence[str],
    act_names: Sequence[str],
    algorithm: str = "auto",
    *,
    trust_pickle: bool = False,
    observation_space: Any = None,
) -> Agent:
    """The scripted agent when ``path`` is None, else the SB3 policy saved there."""
    if path is None:
        return ScriptedAgent(feature_names, act_names)
    return load_sb3_agent(
        path,
        len(feature_names),
        len(act_names),
        algorithm,
        trust_pickle=trust_pickle,
        observation_space=observation_space,
    )
