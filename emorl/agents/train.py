"""Train a Stable-Baselines3 agent on an emorl environment; one run = one folder.

(``--engine rllib`` trains PPO on Ray RLlib instead, in the same layout: see
:mod:`emorl.agents.rllib`.)

A run folder ``<out>/<env>__<algo>__<reward>__<seed>__<time>/`` holds ``model.zip``,
``run.json`` (the resolved config, environment kwargs, emorl and library versions),
``curve.json`` (every training call), ``evaluations.json``, ``best_model.zip``,
``checkpoints/`` and ``tb/`` (TensorBoard). Usable as ``python -m emorl.agents.train``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from emorl.agents import ALGOS, REWARDS

DEFAULT_ENV = "EmoDialogue-v1"


def run_name(env_id: str, algo: str, reward: str, seed: int) -> str:
    """``env__algo__reward__seed__time`` (time in UTC, to the second)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{env_id}__{algo}__{reward}__{seed}__{stamp}"


def resolve_env_kwargs(
    env_id: str, reward: str | None, extra: dict[str, Any] | None, progress: bool = True
) -> dict[str, Any]:
    """Environment kwargs: the YAML's, the reward variant, and for EmoDialogue the shared
    posteriors cache: in text mode the shipped replies' (built once per machine, see
    :mod:`emorl.envs.cache`), with the shipped IEmoNet (bimodal mode, provided or noisy
    transcripts) a folder every run on this machine fills and reads
    (``<cache root>/bimodal-posteriors``, :class:`~emorl.envs.shards.PosteriorShards`)."""
    kwargs = dict(extra or {})
    if reward is not None:
        kwargs["reward"] = reward
    text_mode = kwargs.get("recognizer", "text") == "text"
    if env_id.startswith("EmoDialogue") and text_mode and "recognizer_cache" not in kwargs:
        from emorl.envs.cache import ensure_ter_cache

        kwargs["recognizer_cache"] = str(ensure_ter_cache(progress=progress))
    if env_id.startswith("EmoDialogue"):
        from emorl.envs.shards import with_bimodal_cache

        kwargs = with_bimodal_cache(kwargs)
    return kwargs


def train(
    algo: str = "ppo",
    env_id: str = DEFAULT_ENV,
    *,
    reward: str | None = "eq2",
    timesteps: int | None = None,
    seed: int = 0,
    n_envs: int | None = None,
    out: str | Path = "runs/agents",
    hyperparams: str | Path | None = None,
    env_kwargs: dict[str, Any] | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    tensorboard: bool = True,
    overrides: dict[str, Any] | None = None,
    threads: int = 1,
    device: str = "cpu",
    on_checkpoint: Callable[[Path], None] | None = None,
) -> Path:
    """Train one agent and return its run folder (``threads``: torch's CPU threads;
    ``on_checkpoint``: called with each checkpoint written, every ``checkpoint_freq``).

    ``resume`` continues from a checkpoint's weights and optimiser state (and prepends its
    run's learning curve up to it); the environments start new calls and the random
    streams differ, so a resumed run is close to an uninterrupted one, not identical."""
    import gymnasium as gym
    import torch

    from emorl.agents.callbacks import AtomicCheckpoint, EpisodeCurve, SuccessMoodEval, save_model
    from emorl.agents.config import algo_class, load_hyperparams, split_config
    from emorl.agents.envs import make_vec_env
    from emorl.artifacts import write_json
    from emorl.recognizers.training import resolve_device

    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose from {list(ALGOS)}")
    if reward is not None and reward not in REWARDS:
        raise ValueError(f"unknown reward {reward!r}; choose from {list(REWARDS)}")
    if resume is not None and not Path(resume).is_file():
        raise FileNotFoundError(f"checkpoint to resume from not found: {resume}")
    config = load_hyperparams(algo, env_id, hyperparams)
    config.update(overrides or {})
    if timesteps is not None:
        config["n_timesteps"] = int(timesteps)
    if n_envs is not None:  # asked for on the command line: one subprocess per copy
        config["n_envs"], config["vec_env"] = int(n_envs), "subproc"
    run_cfg, algo_kwargs = split_config(config)
    kwargs = resolve_env_kwargs(
        env_id, reward, {**run_cfg.get("env_kwargs", {}), **(env_kwargs or {})}, progress
    )
    reward_name = kwargs.get("reward", "default")
    resolve_device(device)  # the recognizers' check: cpu, or CUDA when asked and present
    torch.set_num_threads(threads)  # small MLPs: more threads only contend on 2 cores
    torch.manual_seed(seed)
    # everything that can refuse the configuration runs before the run folder exists
    venv = make_vec_env(env_id, kwargs, run_cfg["n_envs"], seed, run_cfg.get("vec_env", "subproc"))
    run_dir = Path(out) / run_name(env_id, algo, reward_name, seed)
    cls = algo_class(algo)
    tb = str(run_dir / "tb") if tensorboard else None
    try:
        if resume is not None:
            model = cls.load(resume, env=venv, device=device, tensorboard_log=tb)
        else:
            model = cls(
                run_cfg["policy"], venv, seed=seed, device=device, tensorboard_log=tb, **algo_kwargs
            )
    except (AssertionError, ValueError, TypeError) as err:
        venv.close()
        where = hyperparams or f"the shipped {algo}.yml"
        raise ValueError(f"{where}: {algo} refused the hyperparameters: {err}") from None
    done_steps = model.num_timesteps if resume is not None else 0
    run_dir.mkdir(parents=True, exist_ok=False)
    meta = {
        "algo": algo,
        "env_id": env_id,
        "reward": reward_name,
        "seed": seed,
        "device": device,
        "config": config,
        "env_kwargs": kwargs,
        "resumed_from": str(resume) if resume else None,
        "versions": library_versions("stable_baselines3"),
        "status": "training",
    }
    write_json(run_dir / "run.json", meta)
    total = run_cfg["n_timesteps"]
    remaining = max(total - done_steps, 0)
    n_envs = run_cfg["n_envs"]
    curve = EpisodeCurve(run_dir / "curve.json", rows=_earlier_curve(resume, done_steps))
    callbacks = [curve]
    if run_cfg.get("checkpoint_freq"):
        callbacks.append(
            AtomicCheckpoint(
                max(run_cfg["checkpoint_freq"] // n_envs, 1),
                str(run_dir / "checkpoints"),
                name_prefix="model",
                curve=curve,
                on_save=on_checkpoint,
            )
        )
    eval_env = None
    if run_cfg.get("eval_freq"):
        eval_env = gym.make(env_id, **kwargs)
        callbacks.append(
            SuccessMoodEval(
                eval_env,
                run_dir,
                seed=seed,
                eval_freq=max(run_cfg["eval_freq"] // n_envs, 1),
                n_eval_episodes=run_cfg.get("eval_episodes", 50),
            )
        )
    begun = time.perf_counter()
    try:
        model.learn(
            remaining,
            callback=callbacks,
            reset_num_timesteps=resume is None,
            tb_log_name="run",
            progress_bar=progress,
        )
    finally:
        venv.close()
        if eval_env is not None:
            eval_env.close()
    seconds = time.perf_counter() - begun
    save_model(model, run_dir / "model.zip")
    meta.update(
        status="done",
        timesteps=int(model.num_timesteps),
        train_seconds=round(seconds, 2),
        steps_per_second=round(remaining / seconds, 1) if seconds > 0 else None,
    )
    write_json(run_dir / "run.json", meta)
    return run_dir


def _earlier_curve(resume: str | Path | None, done_steps: int) -> list[list[float]]:
    """The learning curve up to the checkpoint, from the run folder it was saved in."""
    if resume is None:
        return []
    path = Path(resume).resolve().parent.parent / "curve.json"
    if not path.is_file():
        return []
    rows = json.loads(path.read_text(encoding="utf-8")).get("rows", [])
    return [row for row in rows if row and row[0] <= done_steps]


def library_versions(*engines: str) -> dict[str, str]:
    """Versions of emorl, gymnasium, torch and the training ``engines`` (module names)."""
    import importlib

    import emorl

    names = ("gymnasium", "torch", *engines)
    versions = {name: importlib.import_module(name).__version__ for name in names}
    return {"emorl": emorl.__version__, **versions}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``emorl train agent`` / ``python -m emorl.agents.train``."""
    parser.add_argument("--algo", choices=ALGOS, default="ppo")
    parser.add_argument("--env", default=DEFAULT_ENV, help="Gymnasium env id")
    parser.add_argument("--reward", choices=REWARDS, default="eq2")
    parser.add_argument("--timesteps", type=int, default=None, help="default: from the YAML")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=None, help=">1: one subprocess each")
    parser.add_argument("--out", type=Path, default=Path("runs/agents"))
    parser.add_argument("--hyperparams", type=Path, default=None, help="YAML (default: shipped)")
    parser.add_argument(
        "--recognizer",
        choices=("text", "oracle", "bimodal"),
        default=None,
        help="bimodal: espeak-ng speech through the shipped IEmoNet (slow: see docs/agents.md)",
    )
    parser.add_argument(
        "--estimator",
        type=Path,
        default=None,
        help="reward estimator folder for eq1/eq2/eq2_no_badnews (default: the one shipped "
        "for the recognizer; none is shipped for bimodal)",
    )
    from emorl.cli.env import add_env_kwarg_arguments

    add_env_kwarg_arguments(parser)
    parser.add_argument(
        "--resume", type=Path, default=None, help="checkpoint to continue (.zip; rllib: folder)"
    )
    ray = parser.add_argument_group("RLlib (pip install 'emorl[ray]')")
    ray.add_argument(
        "--engine",
        choices=("sb3", "rllib"),
        default="sb3",
        help="rllib: PPO on Ray RLlib, env runners feeding one learner",
    )
    ray.add_argument(
        "--env-runners", type=int, default=1, help="rllib: env runner processes (one CPU each)"
    )
    ray.add_argument(
        "--ray-address", default=None, metavar="HOST:PORT", help="rllib: join this Ray cluster"
    )
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda[:N]")
    parser.add_argument("--no-tensorboard", action="store_true")
    parser.add_argument("--no-progress", action="store_true")


def train_from_args(args: argparse.Namespace) -> Path:
    """Run :func:`train` (or, with ``--engine rllib``, RLlib PPO) from parsed arguments."""
    from emorl.cli.env import parse_env_kwargs

    env_kwargs = parse_env_kwargs(
        getattr(args, "env_kwarg", None) or [], getattr(args, "env_kwargs", None)
    )
    if args.recognizer:
        env_kwargs["recognizer"] = args.recognizer
    if getattr(args, "estimator", None) is not None:
        env_kwargs["estimator"] = str(args.estimator)
    common = dict(
        reward=args.reward,
        timesteps=args.timesteps,
        seed=args.seed,
        out=args.out,
        hyperparams=args.hyperparams,
        env_kwargs=env_kwargs or None,
        resume=args.resume,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
    )
    if getattr(args, "engine", "sb3") == "rllib":
        from emorl.agents.rllib import train_rllib

        if args.algo != "ppo" or args.n_envs is not None:
            raise ValueError("--engine rllib trains PPO; use --env-runners, not --n-envs")
        return train_rllib(
            args.env, env_runners=args.env_runners, address=args.ray_address, **common
        )
    return train(args.algo, args.env, n_envs=args.n_envs, device=args.device, **common)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m emorl.agents.train``: the same options as ``emorl train agent``."""
    import sys

    from emorl.cli import main as cli_main

    return cli_main(["train", "agent", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
