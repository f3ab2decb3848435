"""The reward study: one agent per reward variant (arm), cell (factor levels) and seed.

A study is declared in a YAML spec (:func:`load_study_spec`; the shipped one is
``hyperparams/study-v1.yml``): the arms (reward variants), the factors and their levels
(``success_bonus``, ``escalation_cost``, ``lingering``, any EmoDialogue-v1 keyword), the
primary cell and the design (``full``: every combination of levels; ``one-at-a-time``:
the primary cell and, per factor, each other level with the rest at the primary's), the
seeds per cell (``primary`` and ``other``), the timesteps per agent, the recognizer
(``text``, ``oracle``, ``bimodal``) and how the reward estimators are fitted.

:func:`run_study` first fits the estimators the estimated arms (``eq1``, ``eq2``,
``eq2_no_badnews``) need, one per kind and per level of the environment factors (task
factors such as ``success_bonus`` do not change what the caller feels), on rollouts of
the study's recognizer (:func:`~emorl.reward.training.estimators_for`, cached under
``<out>/estimators``; an ``estimator`` in the spec's ``env_kwargs``, a folder or null
for a zero estimate, is used instead). It then trains and evaluates every (arm, cell,
seed) as a Ray Tune trial (:mod:`emorl.agents.tune`): a rerun of the same spec restores
the Tune experiment and trains only the trials that did not finish. Results aggregate
per cell and arm over seeds (the seed is the unit) with bootstrap 95 % intervals
(``scipy.stats.bootstrap``, BCa, percentile where BCa is undefined); per cell ``eq2``
and ``eq1`` are compared with ``level`` on the calls that cannot be granted (difference
of seed means, a two-sample bootstrap interval, Welch's t-test). The claim (IEmoNet,
section 3): ``eq2`` gives higher task success than ``level`` where bad news is
unavoidable, without a lower final mood.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.agents import ALGOS, stats
from emorl.reward.emotion_reward import VARIANTS, check_variant

STUDY_METRICS = (
    ("success_rate", "success", "{:.1%}"),
    ("bad_news_success_rate", "success, bad-news calls", "{:.1%}"),
    ("final_mood", "final mood", "{:+.3f}"),
    ("bad_news_final_mood", "final mood, bad-news calls", "{:+.3f}"),
    ("hangup_rate", "hang-up", "{:.1%}"),
    ("turns", "turns", "{:.2f}"),
)
CLAIM_METRICS = ("bad_news_success_rate", "success_rate", "final_mood", "bad_news_final_mood")
DESIGNS = ("full", "one-at-a-time", "listed")
RECOGNIZERS = ("text", "oracle", "bimodal")
SPEC_KEYS = frozenset(
    {
        "name", "algo", "recognizer", "timesteps", "episodes", "arms", "factors", "primary",
        "design", "seeds", "env_kwargs", "estimators", "hyperparams", "premise", "cells",
        "pilot",
    }
)  # fmt: skip
SCALAR_KEYS = ("name", "algo", "recognizer", "timesteps", "episodes", "design", "hyperparams",
               "pilot")  # fmt: skip
SHIPPED_SPEC = Path(__file__).resolve().parent / "hyperparams" / "study-v1.yml"
PILOT = "pilot"  # spec timesteps: the budget from <pilot or out>/pilot/pilot.json
MOOD_MARGIN = 0.05  # a win with a bad-news final mood this much below level's trades mood
PRIMARY_CONFIDENCE = 0.975  # the two primary comparisons' intervals (Holm over two)
ALPHA = 0.05


@dataclass(frozen=True)
class StudySpec:
    """A reward study (see the module docstring); :func:`load_study_spec` reads one."""

    name: str = "study"
    algo: str = "ppo"
    recognizer: str = "text"
    timesteps: int | str = 100_000  # or "pilot": the budget the study's pilot fixed
    episodes: int = 200
    arms: tuple[str, ...] = VARIANTS
    factors: Mapping[str, list[Any]] = field(default_factory=dict)
    primary: Mapping[str, Any] = field(default_factory=dict)
    design: str = "full"
    seeds_primary: int = 5
    seeds_other: int = 5
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    estimator_episodes: int = 2000
    estimator_behaviour: str = "epsilon-scripted:0.5"
    estimator_seed: int = 0
    hyperparams: str | None = None
    premise: tuple[str, ...] = ()  # premise.json files: which cells can test the claim
    listed: tuple[Mapping[str, Any], ...] = ()  # design "listed": the cells after the primary
    # (design "listed" without a primary: only these cells, every one exploratory)
    pilot: str | None = None  # the study folder whose pilot fixes timesteps (default: out)

    def __post_init__(self) -> None:
        where = f"study {self.name!r}"
        if self.algo not in ALGOS:
            raise ValueError(f"{where}: algo must be one of {list(ALGOS)}, got {self.algo!r}")
        if self.recognizer not in RECOGNIZERS:
            raise ValueError(f"{where}: recognizer must be one of {list(RECOGNIZERS)}")
        for key in ("timesteps", "episodes", "seeds_primary", "seeds_other", "estimator_episodes"):
            value = getattr(self, key)
            if key == "timesteps" and value == PILOT:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {key} must be a positive integer, got {value!r}")
        if not self.arms:
            raise ValueError(f"{where}: arms: give at least one reward variant")
        for arm in self.arms:
            check_variant(arm, f"{where}: arms")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"{where}: arms: a variant is listed twice")
        if self.design not in DESIGNS:
            raise ValueError(f"{where}: design must be one of {list(DESIGNS)}")
        for name, levels in self.factors.items():
            if name in ("reward", "recognizer", "estimator"):
                raise ValueError(f"{where}: factors: {name!r} is set by the study itself")
            if not isinstance(levels, list) or not levels:
                raise ValueError(f"{where}: factors.{name}: give a non-empty list of levels")
        unknown = sorted(set(self.primary) - set(self.factors))
        if unknown:
            raise ValueError(f"{where}: primary: {unknown} are not factors")
        for name, level in self.primary.items():
            if level not in self.factors[name]:
                raise ValueError(
                    f"{where}: primary.{name}: {level!r} is not one of its levels "
                    f"{self.factors[name]}"
                )
        if self.design == "one-at-a-time":
            missing = sorted(set(self.factors) - set(self.primary))
            if missing:
                raise ValueError(f"{where}: design one-at-a-time needs primary levels of {missing}")
        if self.design == "listed":
            missing = sorted(set(self.factors) - set(self.primary))
            if self.primary and missing:
                raise ValueError(f"{where}: design listed needs primary levels of {missing}")
            if not self.primary and not self.listed:
                raise ValueError(f"{where}: design listed needs a primary cell or cells")
            for i, cell in enumerate(self.listed):
                if set(cell) != set(self.factors):
                    raise ValueError(
                        f"{where}: cells[{i}] must give a level of every factor "
                        f"{sorted(self.factors)}"
                    )
                for name, level in cell.items():
                    if level not in self.factors[name]:
                        raise ValueError(
                            f"{where}: cells[{i}].{name}: {level!r} is not one of its levels"
                        )
        elif self.listed:
            raise ValueError(f"{where}: cells are only read with design: listed")

    @property
    def primary_cell(self) -> dict[str, Any] | None:
        """The primary cell (the first level of a factor the spec gives no primary for);
        None for a listed design without one (every cell exploratory)."""
        if self.design == "listed" and not self.primary and self.factors:
            return None
        return {k: self.primary.get(k, v[0]) for k, v in self.factors.items()}

    def cells(self) -> list[dict[str, Any]]:
        """The cells in report order (the primary cell first)."""
        if not self.factors:
            return [{}]
        primary = self.primary_cell
        if self.design == "listed":
            head = [] if primary is None else [primary]
            return head + [dict(c) for c in self.listed if dict(c) != primary]
        if self.design == "one-at-a-time":
            cells = [primary]
            for name, levels in self.factors.items():
                cells += [{**primary, name: v} for v in levels if v != primary[name]]
        else:
            names = list(self.factors)
            combos = itertools.product(*self.factors.values())
            cells = [dict(zip(names, c, strict=True)) for c in combos]
            cells.sort(key=lambda c: c != primary)
        return cells

    def seeds_for(self, cell: Mapping[str, Any]) -> int:
        return self.seeds_primary if dict(cell) == self.primary_cell else self.seeds_other

    def trials(self) -> list[dict[str, Any]]:
        """Every trial (arm, cell, seed) in run order: cell (the primary first), then seed,
        then arm, so an interrupted study holds whole seeds of every arm, primary cell first."""
        return [
            {"reward": arm, "factors": dict(cell), "seed": seed}
            for cell in self.cells()
            for seed in range(self.seeds_for(cell))
            for arm in self.arms
        ]

    def trial_settings(self, timesteps: int, episodes: int) -> dict[str, Any]:
        """What every trial of this spec shares (the Tune experiment's fixed settings)."""
        fixed: dict[str, Any] = {
            "algo": self.algo,
            "timesteps": timesteps,
            "recognizer": self.recognizer,
            "episodes": episodes,
            "env_kwargs": dict(self.env_kwargs),
        }
        if self.hyperparams is not None:
            fixed["hyperparams"] = str(self.hyperparams)
        return fixed

    def replace(self, **changes: Any) -> StudySpec:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["arms"] = list(self.arms)
        out["factors"] = {k: list(v) for k, v in self.factors.items()}
        return out


def load_study_spec(path: str | Path | None = None, **overrides: Any) -> StudySpec:
    """Read a YAML study spec (the shipped ``study-v1.yml`` when ``path`` is None); keyword
    ``overrides`` (e.g. ``timesteps``) replace its fields. Errors name the file and field."""
    import yaml

    path = Path(path) if path is not None else SHIPPED_SPEC
    if not path.is_file():
        raise FileNotFoundError(f"study spec not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of study settings")
    unknown = sorted(set(data) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown field {unknown[0]!r}; fields: {sorted(SPEC_KEYS)}")
    kwargs: dict[str, Any] = {k: data[k] for k in SCALAR_KEYS if k in data}
    kwargs.setdefault("name", path.stem)
    if "arms" in data:
        if not isinstance(data["arms"], list):
            raise ValueError(f"{path}: arms must be a list of reward variants")
        kwargs["arms"] = tuple(data["arms"])
    if "premise" in data:
        found = data["premise"]
        found = [found] if isinstance(found, str) else found
        if not isinstance(found, list) or not all(isinstance(f, str) for f in found):
            raise ValueError(f"{path}: premise must be a premise.json path or a list of them")
        kwargs["premise"] = tuple(found)
    if "cells" in data:
        if not isinstance(data["cells"], list) or not all(
            isinstance(c, dict) for c in data["cells"]
        ):
            raise ValueError(f"{path}: cells must be a list of mappings (factor: level)")
        kwargs["listed"] = tuple(dict(c) for c in data["cells"])
    for key in ("factors", "primary", "env_kwargs"):
        if key in data:
            if not isinstance(data[key], dict):
                raise ValueError(f"{path}: {key} must be a mapping")
            kwargs[key] = dict(data[key])
    seeds = data.get("seeds", {})
    if isinstance(seeds, int):
        seeds = {"primary": seeds, "other": seeds}
    if not isinstance(seeds, dict) or set(seeds) - {"primary", "other"}:
        raise ValueError(f"{path}: seeds must be a number or a mapping with primary and other")
    if "primary" in seeds:
        kwargs["seeds_primary"] = seeds["primary"]
    if "other" in seeds:
        kwargs["seeds_other"] = seeds["other"]
    est = data.get("estimators", {})
    if not isinstance(est, dict) or set(est) - {"episodes", "behaviour", "seed"}:
        raise ValueError(f"{path}: estimators takes episodes, behaviour and seed")
    for key, name in (("episodes", "estimator_episodes"), ("behaviour", "estimator_behaviour"),
                      ("seed", "estimator_seed")):  # fmt: skip
        if key in est:
            kwargs[name] = est[key]
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return StudySpec(**kwargs)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def study_estimators(
    spec: StudySpec, out: Path, progress: bool = True
) -> dict[str, dict[str, str]]:
    """Fit (or reuse) the estimators of the study's estimated arms for every cell; returns
    ``{cell key: {kind: folder}}`` (cell key: :func:`cell_key`)."""
    from emorl.reward.features import KINDS
    from emorl.reward.premise import TASK_FACTORS
    from emorl.reward.training import estimators_for

    kinds = [arm for arm in spec.arms if arm in KINDS]
    found: dict[str, dict[str, str]] = {}
    if not kinds or "estimator" in spec.env_kwargs:  # the spec's own estimator (or None)
        return found
    for cell in spec.cells():
        dynamic = {k: v for k, v in cell.items() if k not in TASK_FACTORS}
        kwargs = {**spec.env_kwargs, "recognizer": spec.recognizer, **dynamic}
        fitted = estimators_for(
            kwargs,
            kinds,
            episodes=spec.estimator_episodes,
            seed=spec.estimator_seed,
            behaviour=spec.estimator_behaviour,
            cache=out / "estimators",
            progress=progress,
        )
        # absolute: trials run in Ray workers with their own working directories
        found[cell_key(cell)] = {
            k: str(Path(e.metadata["folder"]).resolve()) for k, e in fitted.items()
        }
    return found


def varied_factors(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    """The factors whose level differs between ``cells`` (the rest are fixed)."""
    names = list(dict.fromkeys(k for c in cells for k in c))
    return [k for k in names if len({repr(c.get(k)) for c in cells}) > 1]


def short_key(cell: Mapping[str, Any], varied: Sequence[str]) -> str:
    """:func:`cell_key` of the ``varied`` factors only ("" when none vary): figure labels."""
    return cell_key({k: v for k, v in cell.items() if k in varied}) if varied else ""


def compared_cells(cells: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The report cells where some arm was compared with ``level``."""
    return [c for c in cells if any(v.get("tested") for v in c["claim"].values())]


def cell_key(cell: Mapping[str, Any]) -> str:
    """A cell's label: ``success_bonus=1, lingering=0.95`` (``(defaults)`` for none)."""
    return ", ".join(f"{k}={'fitted' if v is None else v}" for k, v in cell.items()) or "(defaults)"


def plan(spec: StudySpec) -> dict[str, Any]:
    """What the spec runs: cells with their seeds, trials, environment steps, estimator fits."""
    from emorl.reward.features import KINDS
    from emorl.reward.premise import TASK_FACTORS

    cells = spec.cells()
    trials = spec.trials()
    dynamic = {cell_key({k: v for k, v in c.items() if k not in TASK_FACTORS}) for c in cells}
    kinds = [a for a in spec.arms if a in KINDS]
    return {
        "cells": [{"cell": cell_key(c), "seeds": spec.seeds_for(c)} for c in cells],
        "arms": list(spec.arms),
        "trials": len(trials),
        "environment_steps": None if spec.timesteps == PILOT else len(trials) * spec.timesteps,
        "timesteps": spec.timesteps,
        "estimator_fits": len(dynamic) * len(kinds),
    }


def run_study(
    spec: StudySpec,
    out: str | Path,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    partial: bool = False,
) -> Path:
    """Fit the estimators, run every trial on Ray Tune (resuming), aggregate per cell;
    write ``report.md``, ``study.json`` and PNGs into ``out`` and return the report's path.

    ``partial``: train nothing; aggregate the trials finished so far (a study still running
    or stopped) into ``report-partial.md`` / ``study-partial.json`` / ``*-partial.png``."""
    from emorl.agents.evaluate import evaluate_policy
    from emorl.agents.report import bar_chart, comparison_forest, learning_curve_grid
    from emorl.agents.train import resolve_env_kwargs
    from emorl.agents.tune import finished_trials, run_trials
    from emorl.artifacts import atomic_write, write_json
    from emorl.reward.features import KINDS
    from emorl.reward.premise import TASK_FACTORS
    from emorl.scale.cluster import require_ray

    if workers is not None and workers < 1:
        raise ValueError("--workers must be positive")
    if not partial:
        require_ray()
    out = Path(out)
    begun = time.perf_counter()
    if spec.timesteps == PILOT:
        from emorl.agents.pilot import pilot_budget

        spec = spec.replace(timesteps=pilot_budget(spec.pilot or out))
    testable = premise_verdicts(spec)
    estimators = study_estimators(spec, out, progress)
    configs = []
    for trial in spec.trials():
        if trial["reward"] in KINDS and estimators:
            trial["estimator"] = estimators[cell_key(trial["factors"])][trial["reward"]]
        configs.append(trial)
    fixed = spec.trial_settings(spec.timesteps, spec.episodes)
    if partial:
        results = [r for r in finished_trials(configs, fixed, out=out) if r is not None]
        if not results:
            raise FileNotFoundError(f"{out}: no finished trial of this study yet")
    else:
        results = run_trials(
            configs, fixed, out=out, workers=workers, address=ray_address, progress=progress
        )
    by_cell: dict[str, dict[str, list[dict[str, Any]]]] = {}
    curves: dict[str, dict[str, list[Path]]] = {}
    varied = varied_factors(spec.cells())
    for result in results:
        by_cell.setdefault(cell_key(result["factors"]), {}).setdefault(result["reward"], []).append(
            result
        )
        curve = Path(result["run"]) / "curve.json"
        row = curves.setdefault(short_key(result["factors"], varied), {})
        row.setdefault(result["reward"], []).append(curve)
    baselines: dict[str, list[dict[str, Any]]] = {}
    for cell in spec.cells():
        dynamic = {k: v for k, v in cell.items() if k not in TASK_FACTORS}
        key = cell_key(dynamic)
        if key not in baselines:
            extra = {**spec.env_kwargs, "recognizer": spec.recognizer, **dynamic}
            kwargs = {**resolve_env_kwargs("EmoDialogue-v1", "none", extra, progress),
                      "estimator": None}  # fmt: skip
            baselines[key] = [
                evaluate_policy(name, env_kwargs=kwargs, episodes=spec.episodes)
                for name in ("random", "scripted")
            ]
    cells = []
    for cell in spec.cells():
        key = cell_key(cell)
        arms = by_cell.get(key, {})
        dynamic = cell_key({k: v for k, v in cell.items() if k not in TASK_FACTORS})
        primary = cell == spec.primary_cell
        cells.append(
            {
                "cell": key,
                "factors": cell,
                "primary": primary,
                "dilemma": testable.get(key),
                "summary": [aggregate(arm, arms[arm]) for arm in spec.arms if arm in arms],
                "baselines": baselines[dynamic],
                "claim": claims(arms, primary=primary, dilemma=testable.get(key)),
            }
        )
    settings = {
        **spec.as_dict(),
        "plan": plan(spec),
        "estimators": estimators,
        "ray": {"address": ray_address or "local", "workers": workers},
        "nodes": len({r.get("node") for r in results}),
        "wall_seconds": round(time.perf_counter() - begun, 1),
        "finished_trials": len(results),
        "partial": partial,
        "training_steps_per_second": training_throughput(results),
    }
    tag = "-partial" if partial else ""
    write_json(out / f"study{tag}.json", {"settings": settings, "cells": cells, "runs": results})
    order = [short_key(c, varied) for c in spec.cells()]
    learning_curve_grid(
        {row: curves[row] for row in order if row in curves},
        out / f"learning_curves{tag}.png",
        f"{spec.algo}: training calls by arm" + (", one row per cell" if varied else ""),
    )
    first = cells[0]
    bar_chart(
        first["summary"] + first["baselines"],
        out / f"bars{tag}.png",
        f"{spec.name}, {'primary cell' if first['primary'] else 'cell'} {first['cell']}: "
        f"{spec.timesteps:,} steps",
    )
    compared = compared_cells(cells)
    if len(compared) > 1:
        comparison_forest(
            [{**c, "cell": short_key(c["factors"], varied)} for c in compared],
            out / f"comparisons{tag}.png",
            f"{spec.name}: each arm − level by cell (intervals as in the report)",
        )
    report = out / f"report{tag}.md"
    text = study_markdown(settings, cells)
    atomic_write(report, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return report


def reward_study(
    *,
    seeds: int = 5,
    timesteps: int = 100_000,
    rewards: Sequence[str] = VARIANTS,
    algo: str = "ppo",
    recognizer: str = "text",
    episodes: int = 200,
    out: str | Path = "runs/study-rewards",
    progress: bool = True,
    factors: Mapping[str, Sequence[Any]] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """A full-grid study of ``rewards`` × ``factors`` with ``seeds`` seeds in every cell
    (:func:`run_study` of the equivalent :class:`StudySpec`). Needs ``emorl[ray]``."""
    if seeds < 1 or timesteps < 1:
        raise ValueError("--seeds and --timesteps must be positive")
    spec = StudySpec(
        name="rewards",
        algo=algo,
        recognizer=recognizer,
        timesteps=timesteps,
        episodes=episodes,
        arms=tuple(rewards),
        factors={k: list(v) for k, v in (factors or {}).items()},
        seeds_primary=seeds,
        seeds_other=seeds,
        env_kwargs=dict(env_kwargs or {}),
    )
    return run_study(spec, out, workers=workers, ray_address=ray_address, progress=progress)


def aggregate(name: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: mean over seeds with a bootstrap 95 % interval (seed is the unit)."""
    row: dict[str, Any] = {"policy": name, "seeds": len(results)}
    for key, _, _ in STUDY_METRICS + (("true_reward", "", ""),):
        values = [r[key]["value"] for r in results if np.isfinite(r[key]["value"])]
        bounds = (0.0, 1.0) if key.endswith("_rate") else None  # a rate stays inside [0, 1]
        row[key] = stats.mean_interval(values, method="bootstrap", bounds=bounds).to_dict()
    row["per_seed_success"] = [r["success_rate"]["value"] for r in results]
    row["per_seed_bad_news_success"] = [r["bad_news_success_rate"]["value"] for r in results]
    return row


def compare_with_level(
    runs: Mapping[str, Sequence[dict[str, Any]]], arm: str = "eq2", confidence: float = 0.95
) -> dict[str, Any]:
    """``arm`` vs ``level`` in one cell (docs/study.md, "Analysis"): per claim metric the
    difference of seed means with a two-sample bootstrap interval at ``confidence`` and
    its bootstrap p-value; ``trades_mood`` when the bad-news final mood is more than
    ``MOOD_MARGIN`` below level's."""
    if arm not in runs or "level" not in runs:
        return {"tested": False, "why": f"needs both {arm} and level runs"}
    out: dict[str, Any] = {"tested": True, "arm": arm, "confidence": confidence}
    for key in CLAIM_METRICS:
        a = [r[key]["value"] for r in runs[arm] if math.isfinite(r[key]["value"])]
        b = [r[key]["value"] for r in runs["level"] if math.isfinite(r[key]["value"])]
        out[key] = {
            arm: float(np.mean(a)),
            "level": float(np.mean(b)),
            **stats.difference(a, b, confidence),
        }
    success, mood = out["bad_news_success_rate"], out["bad_news_final_mood"]
    out["trades_mood"] = bool(mood["difference"] < -MOOD_MARGIN)
    p = success.get("p_value")
    out["p_value"] = p
    out["significant"] = bool(p is not None and p < ALPHA and success["difference"] > 0)
    return out


def claims(
    runs: Mapping[str, Sequence[dict[str, Any]]], *, primary: bool, dilemma: bool | None
) -> dict[str, dict[str, Any]]:
    """eq2 and eq1 against level in one cell, with the verdict the protocol reads.

    In the primary cell the two comparisons are the study's primary ones: intervals at
    ``PRIMARY_CONFIDENCE`` and Holm-adjusted p-values; elsewhere 95 % and unadjusted
    (exploratory). ``dilemma`` (from the premise check; None when not given): in a cell
    without the dilemma no result supports or refutes the claim ("not testable")."""
    confidence = PRIMARY_CONFIDENCE if primary else 0.95
    found = {arm: compare_with_level(runs, arm, confidence) for arm in ("eq2", "eq1")}
    tested = [arm for arm, c in found.items() if c["tested"]]
    if primary and tested:
        raw = [found[arm]["p_value"] for arm in tested]
        adjusted = stats.holm([1.0 if p is None else p for p in raw])
        for arm, p_adj in zip(tested, adjusted, strict=True):
            found[arm]["p_holm"] = p_adj
            found[arm]["significant"] = bool(
                p_adj < ALPHA and found[arm]["bad_news_success_rate"]["difference"] > 0
            )
    for arm in tested:
        c = found[arm]
        c["exploratory"] = not primary
        c["verdict"] = verdict(c, dilemma)
    return found


def verdict(claim: Mapping[str, Any], dilemma: bool | None) -> str:
    """The protocol's reading of one comparison."""
    if dilemma is False:
        return "not testable at these settings (no dilemma in the premise check)"
    success = claim["bad_news_success_rate"]
    if claim["significant"] and claim["trades_mood"]:
        return "higher success, traded for a lower final mood"
    if claim["significant"]:
        return "supported" if claim.get("p_holm") is not None else "supported (exploratory)"
    if success["difference"] > 0:
        return "in the claimed direction, not significant"
    return "not supported"


def premise_verdicts(spec: StudySpec) -> dict[str, bool]:
    """``{cell key: dilemma exists}`` for the spec's cells found in its premise files: the
    dilemma exists where ``level``'s avoidance gap lies clearly above 0 (docs/study.md,
    amendment 1); factor values of None (the fitted defaults) are left out when matching."""
    import json

    def norm(factors: Mapping[str, Any]) -> dict[str, Any]:
        return {k: float(v) if isinstance(v, int | float) else v
                for k, v in factors.items() if v is not None}  # fmt: skip

    known: list[tuple[dict[str, Any], bool]] = []
    for name in spec.premise:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"study {spec.name!r}: premise file {path} not found "
                "(run emorl study premise first)"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        known += [
            (norm(c["factors"]), bool(c["variants"]["level"].get("clearly_prefers_avoiding")))
            for c in data["cells"]
        ]
    out: dict[str, bool] = {}
    for cell in spec.cells():
        want = norm(cell)
        for factors, dilemma in known:
            if factors == want:
                out[cell_key(cell)] = dilemma
    return out


def training_throughput(results: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """Median, min and max of the trials' training env steps/s (their ``run.json``)."""
    import json

    rates = []
    for result in results:
        path = Path(result["run"]) / "run.json"
        try:
            rate = json.loads(path.read_text(encoding="utf-8")).get("steps_per_second")
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rate, int | float):
            rates.append(float(rate))
    if not rates:
        return None
    return {"median": float(np.median(rates)), "min": min(rates), "max": max(rates)}


def study_markdown(settings: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> str:
    """The report: settings, per cell the table and the claim, the figures."""
    from emorl.agents.report import cell as fmt_cell

    header = "| policy | seeds | " + " | ".join(h for _, h, _ in STUDY_METRICS) + " |"
    lines = [
        f"# Reward study `{settings['name']}` on EmoDialogue-v1",
        "",
        f"{settings['algo'].upper()}, {settings['timesteps']:,} environment steps per agent, "
        f"recognizer `{settings['recognizer']}`, {settings['episodes']} evaluation calls per "
        f"agent (the same calls for every agent and baseline), design `{settings['design']}`, "
        f"{settings['plan']['trials']} trials"
        + (
            f" (**partial: {settings['finished_trials']} finished so far**)"
            if settings.get("partial")
            else ""
        )
        + f"; wall time {settings['wall_seconds'] / 60:.1f} min"
        + (
            f"; training {rate['median']:,.0f} env steps/s per agent (median over trials; "
            f"{rate['min']:,.0f}-{rate['max']:,.0f})"
            if (rate := settings.get("training_steps_per_second"))
            else ""
        )
        + ". Agents: mean over seeds [bootstrap 95 %]; baselines: one evaluation [Wilson 95 % "
        "for rates, t for means]. Success and mood are the simulator's truth, not the "
        "recognizer's. Estimators fitted per cell on "
        f"{settings['estimator_episodes']} calls of `{settings['estimator_behaviour']}`.",
    ]
    for c in cells:
        lines += [
            "",
            f"## {'Primary cell' if c['primary'] else 'Cell'}: {c['cell']}",
            "",
            header,
            "|---|---:|" + "---:|" * len(STUDY_METRICS),
        ]
        for row in list(c["summary"]) + list(c["baselines"]):
            lines.append(
                f"| {row['policy']} | {row.get('seeds', '-')} | "
                + " | ".join(fmt_cell(row[k], f) for k, _, f in STUDY_METRICS)
                + " |"
            )
        if c.get("dilemma") is not None:
            lines += [
                "",
                "Premise check: the dilemma "
                f"{'exists' if c['dilemma'] else 'does not exist'} in this cell.",
            ]
        for arm, claim in c["claim"].items():
            if not claim.get("tested"):
                continue
            s = claim["bad_news_success_rate"]
            m = claim["bad_news_final_mood"]
            level = f"{claim['confidence'] * 100:g} %"
            p = claim.get("p_holm", claim.get("p_value"))
            p_text = "n/a (no spread over seeds)" if p is None else f"{p:.3f}"
            p_name = "Holm-adjusted p" if "p_holm" in claim else "p (unadjusted)"
            lines += [
                "",
                f"- {arm} − level: success on bad-news calls {s['difference']:+.3f} "
                f"[{s['low']:+.3f}, {s['high']:+.3f}] ({level}), {p_name} {p_text}; final mood "
                f"on bad-news calls {m['difference']:+.3f} [{m['low']:+.3f}, {m['high']:+.3f}]; "
                f"**{claim['verdict']}**.",
            ]
    tag = "-partial" if settings.get("partial") else ""
    lines += [
        "",
        f"![learning curves](learning_curves{tag}.png)",
        "",
        f"![bars](bars{tag}.png)",
        "",
    ]
    if len(compared_cells(cells)) > 1:
        lines += [f"![comparisons by cell](comparisons{tag}.png)", ""]
    return "\n".join(lines)
