"""The reward study's trials on Ray Tune: one trial per (variant, seed[, factor levels]).

A trial trains one agent and evaluates it on the caller's true emotions
(:func:`run_trial`, a plain function without Ray). :func:`run_trials` runs the grid of
trials through a :class:`ray.tune.Tuner` whose ``storage_path`` is the study folder: each
trial's run folder (``model.zip``, ``run.json``, ``curve.json``, ``tb/``, and
``trial_result.json``, the evaluation) is its Tune checkpoint, under
``<study>/trials-<settings digest>/<trial>/checkpoint_000000/``. Running the same study
again restores the experiment (``Tuner.restore``): finished trials are not rerun, an
interrupted one continues from its latest partial checkpoint (every
:data:`CHECKPOINT_STEPS` steps; its result then records ``resumed_at_step``, since the
restarted random streams make it close to, not identical with, an uninterrupted run), a
failed one starts over; other settings get another experiment folder.

Each trial takes one CPU and pins torch to one thread, and every random number it draws
comes from its seed: its result is the same run in sequence here or on any node of a
cluster (only ``run`` and ``node`` differ). Ray is the optional extra ``emorl[ray]``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from emorl.fingerprint import sha256_json

ENV_ID = "EmoDialogue-v1"
RESULT_NAME = "trial_result.json"
PARTIAL_NAME = "partial"  # a trial's checkpoint before it finished: the agent so far
CHECKPOINT_STEPS = 25_000  # how often a trial under Tune reports its agent so far (default)
# what may differ between two runs of one trial: where it ran and where it was written
PLACE_KEYS = ("run", "node")


class TrialsIncomplete(RuntimeError):
    """Some trials failed or did not finish; running the study again resumes them."""


def trial_configs(
    rewards: Sequence[str],
    seeds: int,
    factors: Mapping[str, Sequence[Any]] | None = None,
) -> list[dict[str, Any]]:
    """The grid in report order: reward, then factor levels, then seed."""
    import itertools

    factors = dict(factors or {})
    levels = list(itertools.product(*factors.values())) if factors else [()]
    return [
        {"reward": reward, "factors": dict(zip(factors, level, strict=True)), "seed": seed}
        for reward in rewards
        for level in levels
        for seed in range(seeds)
    ]


def run_trial(
    config: Mapping[str, Any],
    run_root: str | Path,
    *,
    resume: str | Path | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Train ``config["algo"]`` with ``reward``/``seed``/``factors`` for ``timesteps``
    steps under ``run_root`` and evaluate it on ``episodes`` calls (none for 0: a pilot
    run); the evaluation dict with ``run`` (the run folder), ``seed``, ``reward`` and
    ``factors``. ``resume`` continues a checkpoint of this trial; ``on_checkpoint`` gets
    one every ``config["checkpoint_steps"]`` steps (default :data:`CHECKPOINT_STEPS`;
    none without ``on_checkpoint``).

    ``config`` also holds ``recognizer`` and ``env_kwargs`` (without the reward), and
    may hold ``estimator`` (the reward estimator's folder for this trial's cell) and
    ``hyperparams`` (a YAML; default the shipped one); the text and bimodal posteriors
    caches are resolved on the machine that runs the trial. The agent is evaluated with
    reward ``none`` (the metrics are the caller's truth, not a reward).
    """
    import torch

    from emorl.agents.evaluate import evaluate_policy
    from emorl.agents.train import resolve_env_kwargs, train
    from emorl.artifacts import write_json

    torch.set_num_threads(1)
    factors = dict(config.get("factors") or {})
    extra = {**config.get("env_kwargs", {}), "recognizer": config["recognizer"], **factors}
    for local in ("recognizer_cache", "bimodal_cache"):  # paths on the caller's machine
        extra.pop(local, None)  # resolved here
    if config.get("estimator") is not None:
        extra["estimator"] = config["estimator"]
    base = resolve_env_kwargs(ENV_ID, None, extra, progress=False)
    base.pop("reward", None)
    every = int(config.get("checkpoint_steps", CHECKPOINT_STEPS))
    run_dir = train(
        config["algo"],
        reward=config["reward"],
        timesteps=int(config["timesteps"]),
        seed=int(config["seed"]),
        out=run_root,
        env_kwargs=base,
        hyperparams=config.get("hyperparams"),
        progress=False,
        overrides={"eval_freq": 0, "checkpoint_freq": every if on_checkpoint else 0},
        threads=1,
        resume=resume,
        on_checkpoint=on_checkpoint,
    )
    result: dict[str, Any] = {}
    if int(config["episodes"]) > 0:  # 0: a pilot run, trained and not evaluated
        judged = {**base, "reward": "none", "estimator": None}
        result = evaluate_policy(
            config["reward"],
            env_kwargs=judged,
            model=run_dir / "model.zip",
            episodes=config["episodes"],
        )
    result.update(
        run=str(run_dir), seed=int(config["seed"]), reward=config["reward"], factors=factors
    )
    if resume is not None:  # a resumed trial says so: its random streams were restarted
        result["resumed_at_step"] = _checkpoint_steps(Path(resume))
    write_json(run_dir / RESULT_NAME, result)
    return result


def tune_trial(config: dict[str, Any]) -> None:
    """The Tune trainable: :func:`run_trial` of the fixed settings and ``config["trial"]``
    in a scratch folder, reported with the run folder as the trial's checkpoint (Tune
    copies it into the study's storage). Every :data:`CHECKPOINT_STEPS` steps the agent so
    far is reported as a partial checkpoint (``partial/``); a trial Tune restores after
    an interruption continues from its latest one."""
    import ray
    from ray import tune

    merged = {**{k: v for k, v in config.items() if k != "trial"}, **config["trial"]}
    with tempfile.TemporaryDirectory(prefix="emorl-trial-") as scratch:
        resume = _restore_partial(tune.get_checkpoint(), Path(scratch) / "resumed")

        def report_partial(path: Path) -> None:
            with tempfile.TemporaryDirectory(prefix="emorl-partial-") as folder:
                target = Path(folder) / PARTIAL_NAME
                (target / "checkpoints").mkdir(parents=True)
                shutil.copy2(path, target / "checkpoints" / path.name)
                curve = path.parent.parent / "curve.json"
                if curve.is_file():
                    shutil.copy2(curve, target / "curve.json")
                steps = {"timesteps_done": _checkpoint_steps(path)}
                tune.report(steps, checkpoint=tune.Checkpoint.from_directory(folder))

        result = run_trial(merged, scratch, resume=resume, on_checkpoint=report_partial)
        shutil.rmtree(Path(result["run"]) / "checkpoints", ignore_errors=True)  # partials
        result["node"] = ray.get_runtime_context().get_node_id()
        run_dir = Path(result["run"])
        (run_dir / RESULT_NAME).write_text(json.dumps(result), encoding="utf-8")
        metrics = {
            key: result[key]["value"] for key in ("success_rate", "final_mood") if key in result
        }
        metrics["node"] = result["node"]
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(run_dir)))


def _restore_partial(checkpoint: Any, into: Path) -> Path | None:
    """The model of a partial checkpoint Tune handed back, copied ``into`` (None: none)."""
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        partial = Path(folder) / PARTIAL_NAME
        models = sorted((partial / "checkpoints").glob("*.zip"), key=_checkpoint_steps)
        if not models:
            return None  # a finished trial's or an older layout's checkpoint
        shutil.copytree(partial, into)
    return into / "checkpoints" / models[-1].name


def _checkpoint_steps(path: Path) -> int:
    """The step count in a checkpoint's name (``model_25000_steps.zip``)."""
    digits = path.stem.removesuffix("_steps").rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else 0


def experiment_name(key: Mapping[str, Any]) -> str:
    """``trials-<12 hex>``: a digest of the settings, so other settings never resume."""
    return f"trials-{sha256_json(key)[:12]}"


def run_trials(
    configs: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any],
    *,
    out: str | Path,
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every trial (``fixed`` settings + one entry of ``configs`` each) on Ray Tune,
    resuming the study folder's experiment for these settings; the results in the order
    of ``configs``, each with ``run`` (its checkpoint folder) and ``node``.

    Local Ray with one trial per core by default; ``address`` joins a running cluster;
    ``workers`` caps the trials running at once.
    """
    from emorl.scale.cluster import ray_session, require_ray

    require_ray()
    from ray import tune

    if not configs:
        return []
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    fixed = dict(fixed)
    name = experiment_name({"fixed": fixed, "configs": list(configs)})
    path = out / name
    with ray_session(address, num_cpus=os.cpu_count()):
        trainable = tune.with_resources(tune_trial, {"cpu": 1})
        if tune.Tuner.can_restore(str(path)):
            tuner = tune.Tuner.restore(str(path), trainable, restart_errored=True)
        else:
            space = {**fixed, "trial": tune.grid_search([dict(c) for c in configs])}
            tuner = tune.Tuner(
                trainable,
                param_space=space,
                tune_config=tune.TuneConfig(
                    max_concurrent_trials=workers, trial_dirname_creator=_trial_dirname
                ),
                run_config=tune.RunConfig(
                    name=name,
                    storage_path=str(out),
                    verbose=1 if progress else 0,
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                ),
            )
        grid = tuner.fit()
    errors = [str(r.error).splitlines()[0] for r in grid if r.error is not None]
    if errors:
        raise TrialsIncomplete(
            f"{len(errors)} trial(s) failed ({errors[0]}); run the study again to retry them"
        )
    unfinished = [
        r
        for r in grid
        if r.checkpoint is None or not (Path(r.checkpoint.path) / RESULT_NAME).is_file()
    ]
    if unfinished:  # stopped (Ctrl-C, a lost node): Tune has saved where each trial stood
        raise TrialsIncomplete(
            f"{len(unfinished)} of {len(grid)} trial(s) did not finish (the run was stopped); "
            "run the study again to resume them"
        )
    found: dict[str, dict[str, Any]] = {}
    for r in grid:
        folder = Path(r.checkpoint.path)
        result = json.loads((folder / RESULT_NAME).read_text(encoding="utf-8"))
        result["run"] = str(folder)
        found[_trial_id(r.config["trial"])] = result
    return [found[_trial_id(c)] for c in configs]


def finished_trials(
    configs: Sequence[Mapping[str, Any]], fixed: Mapping[str, Any], *, out: str | Path
) -> list[dict[str, Any] | None]:
    """The results of the trials of :func:`run_trials` ``(configs, fixed)`` that have
    finished so far (None for the others), read from the study folder without Ray and
    without training anything: a look at a study that is still running or was stopped."""
    path = Path(out).resolve() / experiment_name({"fixed": dict(fixed), "configs": list(configs)})
    found: dict[str, dict[str, Any]] = {}
    for result_path in path.glob(f"*/checkpoint_*/{RESULT_NAME}"):
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a checkpoint still being copied
        result["run"] = str(result_path.parent)
        found[_trial_id(result)] = result
    return [found.get(_trial_id(c)) for c in configs]


def _trial_id(config: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: config[k] for k in ("reward", "factors", "seed")}, sort_keys=True, default=str
    )


def _trial_dirname(trial: Any) -> str:
    c = trial.config["trial"]
    levels = "".join(f"_{k}={v}" for k, v in c["factors"].items())
    return f"{c['reward']}{levels}_seed{c['seed']}_{trial.trial_id}"


def sequential_trials(
    configs: Sequence[Mapping[str, Any]], fixed: Mapping[str, Any], run_root: str | Path
) -> list[dict[str, Any]]:
    """The same trials one after another in this process, without Ray (for comparisons)."""
    return [run_trial({**fixed, **c}, run_root) for c in configs]


def same_result(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two results of one trial agree on everything but where it ran and was written."""
    strip = {k: v for k, v in a.items() if k not in PLACE_KEYS}
    return strip == {k: v for k, v in b.items() if k not in PLACE_KEYS}
