"""PPO with RLlib on ``EmoDialogue-v1``: many env runners feeding one learner.

``emorl train agent --engine rllib --env-runners N`` runs :func:`train_rllib`. The
environment is registered with :func:`ray.tune.registry.register_env`; each env runner
builds its own environments and recognizer from the env kwargs (text mode: the
posteriors cache on that machine; bimodal: its own speech synthesis and IEmoNet),
and the learner, in this process, never builds one. The hyperparameters are the
Stable-Baselines3 PPO YAML's (``hyperparams/ppo.yml``), mapped onto RLlib's names
(:func:`rllib_settings`), so that both engines train the same agent on the same budget.

The run folder has the SB3 layout: ``run.json`` (resolved config, env kwargs,
versions), ``curve.json`` (every training call: steps, success, hang-up, final mood,
return) and ``learning_curve.png``, ``tb/`` (TensorBoard), ``checkpoints/steps_<n>/``
and ``model/``, the final RLlib checkpoint that ``emorl evaluate agent --model`` and
``--resume`` take. :func:`load_rllib_policy` loads only the policy network from a
checkpoint (no env runner, no environment) and acts deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ENGINE_NAME = "ppo-rllib"
EPISODES_KEY = "emorl_episodes"  # per-call rows the env runners log
CHECKPOINT_MARKERS = ("rllib_checkpoint.json", "algorithm_state.pkl")
MODULE_PATH = ("learner_group", "learner", "rl_module", "default_policy")


def env_name(env_id: str) -> str:
    """The name the env is registered under with Ray (``emorl/EmoDialogue-v1``)."""
    return f"emorl/{env_id}"


def make_env(config: Mapping[str, Any]) -> Any:
    """Build one environment on an env runner from ``{"env_id", "env_kwargs"}``.

    The text recognizer's posteriors cache is resolved on the machine that runs this.
    """
    import gymnasium as gym

    import emorl  # noqa: F401  (registers the EmoDialogue ids in a fresh worker)
    from emorl.agents.train import resolve_env_kwargs

    env_id = config["env_id"]
    kwargs = resolve_env_kwargs(env_id, None, dict(config.get("env_kwargs", {})), False)
    return gym.make(env_id, **kwargs)


def register(env_id: str) -> str:
    """Register ``env_id`` with Ray Tune's registry; its registered name."""
    from ray.tune.registry import register_env

    name = env_name(env_id)
    register_env(name, make_env)
    return name


def rllib_settings(config: Mapping[str, Any], env_runners: int) -> dict[str, Any]:
    """The SB3 PPO hyperparameters (resolved YAML) in RLlib's terms.

    One PPO update per ``n_steps * n_envs`` environment steps, as in SB3; the copies
    are spread over the env runners. SB3's loss is kept: no KL penalty, no value-function
    clipping, gradients clipped to ``max_grad_norm``, tanh layers of ``net_arch``.
    """
    net = (config.get("policy_kwargs") or {}).get("net_arch", [64, 64])
    if isinstance(net, Mapping):  # SB3's dict(pi=[...], vf=[...]): RLlib has one stack
        net = net.get("pi", [64, 64])
    n_envs = int(config.get("n_envs", 1))
    return {
        "train_batch_size_per_learner": int(config.get("n_steps", 2048)) * n_envs,
        "minibatch_size": int(config.get("batch_size", 64)),
        "num_epochs": int(config.get("n_epochs", 10)),
        "lr": float(config.get("learning_rate", 3e-4)),
        "gamma": float(config.get("gamma", 0.99)),
        "lambda_": float(config.get("gae_lambda", 0.95)),
        "entropy_coeff": float(config.get("ent_coef", 0.0)),
        "clip_param": float(config.get("clip_range", 0.2)),
        "vf_loss_coeff": float(config.get("vf_coef", 0.5)),
        "grad_clip": float(config.get("max_grad_norm", 0.5)),
        "use_kl_loss": False,
        "vf_clip_param": float("inf"),
        "fcnet_hiddens": [int(x) for x in net],
        "num_envs_per_env_runner": max(1, n_envs // max(env_runners, 1)),
        "num_env_runners": int(env_runners),
    }


class EpisodeRows:
    """RLlib callback: one row per finished call (success, hang-up, final mood, return,
    turns) logged by the env runner that played it."""

    @staticmethod
    def on_episode_end(*, episode: Any, metrics_logger: Any = None, **_: Any) -> None:
        info = episode.get_infos(-1)
        if metrics_logger is None or not info.get("episode_end"):
            return
        row = [
            float(info["success"]),
            float(info["hangup"]),
            float(info["final_mood"]["valence"]),
            float(episode.get_return()),
        ]
        metrics_logger.log_value(EPISODES_KEY, row, reduce="item_series")


def _callbacks_class() -> type:
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class Callbacks(RLlibCallback):
        def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kw: Any) -> None:
            EpisodeRows.on_episode_end(episode=episode, metrics_logger=metrics_logger, **kw)

    return Callbacks


def build_config(
    env_id: str, env_kwargs: Mapping[str, Any], settings: Mapping[str, Any], seed: int
) -> Any:
    """The :class:`ray.rllib.algorithms.ppo.PPOConfig` (new API stack, torch, CPU)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    s = dict(settings)
    return (
        PPOConfig()
        .framework("torch")
        .environment(register(env_id), env_config={"env_id": env_id, "env_kwargs": env_kwargs})
        .env_runners(
            num_env_runners=s["num_env_runners"],
            num_envs_per_env_runner=s["num_envs_per_env_runner"],
            num_cpus_per_env_runner=1,
            create_env_on_local_worker=s["num_env_runners"] == 0,
            rollout_fragment_length="auto",
        )
        .learners(num_learners=0, num_gpus_per_learner=0)
        .training(
            train_batch_size_per_learner=s["train_batch_size_per_learner"],
            minibatch_size=s["minibatch_size"],
            num_epochs=s["num_epochs"],
            lr=s["lr"],
            gamma=s["gamma"],
            lambda_=s["lambda_"],
            entropy_coeff=s["entropy_coeff"],
            clip_param=s["clip_param"],
            vf_loss_coeff=s["vf_loss_coeff"],
            grad_clip=s["grad_clip"],
            grad_clip_by="global_norm",
            use_kl_loss=s["use_kl_loss"],
            vf_clip_param=s["vf_clip_param"],
        )
        .rl_module(
            model_config=DefaultModelConfig(
                fcnet_hiddens=s["fcnet_hiddens"], fcnet_activation="tanh", vf_share_layers=False
            )
        )
        .callbacks(_callbacks_class())
        .debugging(seed=seed, log_level="ERROR")
        .reporting(metrics_num_episodes_for_smoothing=100)
    )


def train_rllib(
    env_id: str = "EmoDialogue-v1",
    *,
    reward: str | None = "eq2",
    timesteps: int | None = None,
    seed: int = 0,
    env_runners: int = 1,
    out: str | Path = "runs/agents",
    hyperparams: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    tensorboard: bool = True,
    overrides: dict[str, Any] | None = None,
    address: str | None = None,
) -> Path:
    """Train PPO on RLlib and return the run folder (see the module docstring)."""
    import torch

    from emorl.agents import REWARDS
    from emorl.agents.config import load_hyperparams, split_config
    from emorl.agents.train import library_versions, resolve_env_kwargs, run_name
    from emorl.artifacts import write_json
    from emorl.scale.cluster import cluster_cpus, ray_session, require_ray

    require_ray()
    if reward is not None and reward not in REWARDS:
        raise ValueError(f"unknown reward {reward!r}; choose from {list(REWARDS)}")
    if env_runners < 0:
        raise ValueError(f"--env-runners must be 0 or more, got {env_runners}")
    if resume is not None and not is_rllib_checkpoint(resume):
        raise FileNotFoundError(f"RLlib checkpoint to resume from not found: {resume}")
    config = load_hyperparams("ppo", env_id, hyperparams)
    config.update(overrides or {})
    if timesteps is not None:
        config["n_timesteps"] = int(timesteps)
    run_cfg, _ = split_config(config)
    extra = {**run_cfg.get("env_kwargs", {}), **(env_kwargs or {})}
    if reward is not None:
        extra["reward"] = reward
    kwargs = resolve_env_kwargs(env_id, None, extra, progress)
    runner_kwargs = {k: v for k, v in kwargs.items() if k != "recognizer_cache"}
    reward_name = kwargs.get("reward", "default")
    settings = rllib_settings(config, env_runners)
    run_dir = Path(out) / run_name(env_id, ENGINE_NAME, reward_name, seed)
    meta: dict[str, Any] = {
        "algo": "ppo",
        "engine": "rllib",
        "env_id": env_id,
        "reward": reward_name,
        "seed": seed,
        "config": config,
        "rllib": settings,
        "env_kwargs": kwargs,
        "resumed_from": str(resume) if resume else None,
        "versions": library_versions("ray"),
        "status": "training",
    }
    torch.set_num_threads(1)
    total = int(run_cfg["n_timesteps"])
    checkpoint_freq = int(run_cfg.get("checkpoint_freq", 0) or 0)
    rows: list[list[float]] = []
    with ray_session(address):
        cpus = cluster_cpus()
        if env_runners > cpus:  # RLlib would wait for CPUs that never come
            raise ValueError(f"--env-runners {env_runners} needs as many CPUs; Ray has {cpus}")
        algo = build_config(env_id, runner_kwargs, settings, seed).build_algo()
        # the run folder appears only once RLlib has accepted the configuration
        run_dir.mkdir(parents=True, exist_ok=False)
        write_json(run_dir / "run.json", meta)
        writer = _writer(run_dir / "tb") if tensorboard else None
        try:
            meta["env_runner_nodes"] = _runner_nodes(algo, env_runners)
            if resume is not None:
                algo.restore_from_path(str(Path(resume).resolve()))
            done = _restored_steps(algo) if resume is not None else 0
            start_steps, begun, last_ckpt = done, time.perf_counter(), done
            with _bar(
                progress, max(total - done, 0), f"rllib ppo {reward_name} seed {seed}"
            ) as bar:
                while done < total:
                    result = algo.train()
                    runners = result.get("env_runners", {})
                    now = (
                        _lifetime_steps(runners) or done + settings["train_batch_size_per_learner"]
                    )
                    rows.extend(_rows(runners.get(EPISODES_KEY, []), done, now))
                    done = now
                    bar(done - start_steps)
                    if writer is not None:
                        _log_scalars(writer, result, rows, done)
                    if checkpoint_freq and done - last_ckpt >= checkpoint_freq:
                        last_ckpt = done
                        algo.save_to_path(
                            str((run_dir / "checkpoints" / f"steps_{done}").resolve())
                        )
            seconds = time.perf_counter() - begun
            algo.save_to_path(str((run_dir / "model").resolve()))
        finally:
            algo.stop()
            if writer is not None:
                writer.close()
    _write_curve(run_dir, rows, f"rllib ppo, reward {reward_name}, seed {seed}")
    meta.update(
        status="done",
        timesteps=int(done),
        train_seconds=round(seconds, 2),
        steps_per_second=round((done - start_steps) / seconds, 1) if seconds > 0 else None,
    )
    write_json(run_dir / "run.json", meta)
    return run_dir


def _runner_nodes(algo: Any, env_runners: int) -> list[str]:
    """The Ray node id of every remote env runner (where the environments live)."""
    if env_runners == 0:
        return []
    return list(algo.env_runner_group.foreach_env_runner(_node_id, local_env_runner=False))


def _node_id(_runner: Any) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _restored_steps(algo: Any) -> int:
    key = ("env_runners", "num_env_steps_sampled_lifetime")
    return int(algo.metrics.peek(key, default=0) or 0)


def _lifetime_steps(runners: Mapping[str, Any]) -> int:
    value = runners.get("num_env_steps_sampled_lifetime", 0) if runners else 0
    return int(value or 0)


def _rows(items: Any, before: int, after: int) -> list[list[float]]:
    """Per-call rows of one iteration, their steps spread evenly over it (RLlib reports
    the lifetime step count once per iteration, not per call)."""
    items = list(items or [])
    if not items:
        return []
    steps = np.linspace(before, after, len(items) + 1)[1:]
    return [[float(round(t)), *map(float, row)] for t, row in zip(steps, items, strict=True)]


def _write_curve(run_dir: Path, rows: list[list[float]], title: str) -> None:
    from emorl.agents.report import learning_curves
    from emorl.artifacts import write_json

    columns = ["timesteps", "success", "hangup", "final_mood", "return"]
    write_json(run_dir / "curve.json", {"columns": columns, "rows": rows})
    if rows:
        learning_curves(
            {"ppo (rllib)": [run_dir / "curve.json"]}, run_dir / "learning_curve.png", title
        )


def _writer(folder: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder / "run_1"))


def _log_scalars(
    writer: Any, result: Mapping[str, Any], rows: list[list[float]], step: int
) -> None:
    runners = result.get("env_runners", {})
    for key in ("episode_return_mean", "episode_len_mean"):
        if isinstance(runners.get(key), (int, float)):
            writer.add_scalar(f"rollout/{key}", runners[key], step)
    learner = result.get("learners", {}).get("default_policy", {})
    for key in ("policy_loss", "vf_loss", "entropy", "total_loss"):
        value = learner.get(key)
        if isinstance(value, (int, float, np.floating)):
            writer.add_scalar(f"train/{key}", float(value), step)
    if rows:
        recent = np.asarray(rows[-100:])
        writer.add_scalar("episode/success_rate", float(recent[:, 1].mean()), step)
        writer.add_scalar("episode/hangup_rate", float(recent[:, 2].mean()), step)
        writer.add_scalar("episode/final_mood", float(recent[:, 3].mean()), step)


class _bar:
    """A rich progress bar over environment steps (a callable that sets the count)."""

    def __init__(self, enabled: bool, total: int, description: str) -> None:
        self.enabled, self.total, self.description = enabled, total, description

    def __enter__(self) -> Any:
        from emorl.progress import task_progress

        self._context = task_progress(self.enabled)
        progress = self._context.__enter__()
        task = progress.add_task(self.description, total=self.total)
        return lambda n: progress.update(task, completed=n)

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


def is_rllib_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a folder RLlib's ``Algorithm.save_to_path`` wrote."""
    folder = Path(path)
    return folder.is_dir() and any((folder / m).is_file() for m in CHECKPOINT_MARKERS)


class RLlibPolicy:
    """The policy network of an RLlib checkpoint, without its algorithm or env runners.

    ``predict(obs, deterministic=True)`` returns ``(action, None)`` like a
    Stable-Baselines3 model, the most probable action when deterministic.
    """

    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> tuple[int, None]:
        import torch
        from ray.rllib.core.columns import Columns

        batch = {Columns.OBS: torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])}
        with torch.no_grad():
            logits = self.module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS][0]
        if deterministic:
            return int(torch.argmax(logits)), None
        return int(torch.distributions.Categorical(logits=logits).sample()), None

    def __call__(self, obs: np.ndarray) -> int:
        return self.predict(obs, deterministic=True)[0]


def load_rllib_policy(path: str | Path) -> RLlibPolicy:
    """The deterministic policy of the RLlib checkpoint folder ``path``."""
    from emorl.scale.cluster import require_ray

    require_ray()
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    folder = Path(path)
    if not is_rllib_checkpoint(folder):
        raise FileNotFoundError(f"not an RLlib checkpoint folder: {folder}")
    module_dir = folder.joinpath(*MODULE_PATH)
    if not module_dir.is_dir():
        raise FileNotFoundError(f"{folder}: no policy module at {module_dir}")
    torch.set_num_threads(1)
    module = RLModule.from_checkpoint(str(module_dir.resolve()))
    module.eval()
    return RLlibPolicy(module)
