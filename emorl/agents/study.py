"""The reward study: one agent per reward variant and seed, evaluated against the baselines.

The claim tested (IEmoNet, section 3): ``delta_est`` gives higher task success than
``level`` in calls where bad news is unavoidable, without a lower final mood. A seed is
the unit: each variant's numbers are means over seeds with Student's t 95 % intervals,
and the two variants are compared by Welch's t-test over seeds. The trials run on Ray
Tune (:mod:`emorl.agents.tune`), locally or on a cluster, and resume when interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorl.agents import stats

STUDY_METRICS = (
    ("success_rate", "success", "{:.1%}"),
    ("bad_news_success_rate", "success, bad-news calls", "{:.1%}"),
    ("final_mood", "final mood", "{:+.3f}"),
    ("bad_news_final_mood", "final mood, bad-news calls", "{:+.3f}"),
    ("hangup_rate", "hang-up", "{:.1%}"),
    ("turns", "turns", "{:.2f}"),
)


def reward_study(
    *,
    seeds: int = 5,
    timesteps: int = 100_000,
    rewards: Sequence[str] = ("delta_est", "delta_pest", "delta", "level", "none"),
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
    """Train and evaluate every (reward, seed[, factor levels]) as Ray Tune trials; write
    ``report.md``, ``study.json`` and PNGs into ``out`` (the Tune storage too).

    ``env_kwargs``: more environment keyword arguments for every trial and baseline;
    ``factors`` maps environment keyword arguments to levels, crossed with the rewards;
    ``workers`` caps the trials running at once (default: one per CPU); ``ray_address``
    joins a running cluster (default: a local Ray). A rerun with the same settings
    resumes: finished trials are not trained again. Needs ``pip install 'emorl[ray]'``.
    """
    from emorl.agents.evaluate import evaluate_policy
    from emorl.agents.report import bar_chart, learning_curves
    from emorl.agents.train import resolve_env_kwargs
    from emorl.agents.tune import run_trials, trial_configs, variant_name
    from emorl.artifacts import atomic_write, write_json
    from emorl.scale.cluster import require_ray

    if seeds < 1 or timesteps < 1:
        raise ValueError("--seeds and --timesteps must be positive")
    if workers is not None and workers < 1:
        raise ValueError("--workers must be positive")
    require_ray()
    out = Path(out)
    begun = time.perf_counter()
    extra = {**(env_kwargs or {}), "recognizer": recognizer}
    base_kwargs = resolve_env_kwargs("EmoDialogue-v1", None, extra, progress)
    factors = {k: list(v) for k, v in (factors or {}).items()}
    key = {"algo": algo, "timesteps": timesteps, "recognizer": recognizer, "episodes": episodes}
    if factors:
        key["factors"] = factors
    if env_kwargs:
        key["env_kwargs"] = dict(env_kwargs)
    fixed = {k: key[k] for k in ("algo", "timesteps", "recognizer", "episodes")}
    fixed["env_kwargs"] = dict(env_kwargs or {})
    configs = trial_configs(rewards, seeds, factors)
    results = run_trials(
        configs, fixed, out=out, workers=workers, address=ray_address, progress=progress
    )
    runs: dict[str, list[dict[str, Any]]] = {}
    curves: dict[str, list[Path]] = {}
    for result in results:
        name = variant_name(result["reward"], result["factors"])
        runs.setdefault(name, []).append(result)
        curves.setdefault(name, []).append(Path(result["run"]) / "curve.json")
    baselines = [
        evaluate_policy(name, env_kwargs=base_kwargs, episodes=episodes)
        for name in ("random", "scripted")
    ]
    summary = [aggregate(name, group) for name, group in runs.items()]
    claim = test_claim(runs)
    settings = {
        "algo": algo,
        "seeds": seeds,
        "timesteps": timesteps,
        "recognizer": recognizer,
        "episodes": episodes,
        "factors": factors,
        "env_kwargs": base_kwargs,
        "ray": {"address": ray_address or "local", "workers": workers},
        "nodes": len({r.get("node") for r in results}),
        "wall_seconds": round(time.perf_counter() - begun, 1),
    }
    write_json(
        out / "study.json",
        {
            "key": key,
            "settings": settings,
            "runs": runs,
            "baselines": baselines,
            "summary": summary,
            "claim": claim,
        },
    )
    learning_curves(curves, out / "learning_curves.png", f"{algo}: training calls by reward")
    bar_chart(summary + baselines, out / "bars.png", f"{algo}, {seeds} seeds, {timesteps} steps")
    report = out / "report.md"
    text = study_markdown(settings, summary, baselines, claim)
    atomic_write(report, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return report


def aggregate(name: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: mean over seeds with a t interval (seed is the unit)."""
    row: dict[str, Any] = {"policy": name, "seeds": len(results)}
    for key, _, _ in STUDY_METRICS + (("true_reward", "", ""),):
        row[key] = stats.mean([r[key]["value"] for r in results if np.isfinite(r[key]["value"])])
        if key.endswith("_rate"):  # a rate's interval stays inside [0, 1]
            row[key]["low"] = max(0.0, row[key]["low"])
            row[key]["high"] = min(1.0, row[key]["high"])
    row["per_seed_success"] = [r["success_rate"]["value"] for r in results]
    return row


def test_claim(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``delta_est`` vs ``level``: differences of the seed means and Welch p-values."""
    from scipy.stats import ttest_ind

    if "delta_est" not in runs or "level" not in runs:
        return {"tested": False, "why": "needs both delta_est and level runs"}
    out: dict[str, Any] = {"tested": True}
    for key in ("bad_news_success_rate", "success_rate", "final_mood", "bad_news_final_mood"):
        a = np.array([r[key]["value"] for r in runs["delta_est"]])
        b = np.array([r[key]["value"] for r in runs["level"]])
        p = float(ttest_ind(a, b, equal_var=False).pvalue) if min(len(a), len(b)) > 1 else None
        out[key] = {
            "delta_est": float(a.mean()),
            "level": float(b.mean()),
            "difference": float(a.mean() - b.mean()),
            "welch_p": p,
        }
    higher = out["bad_news_success_rate"]["difference"] > 0
    not_lower = out["final_mood"]["difference"] >= 0 or (
        out["final_mood"]["welch_p"] is not None and out["final_mood"]["welch_p"] > 0.05
    )
    significant = (out["bad_news_success_rate"]["welch_p"] or 1.0) < 0.05
    out["supported"] = bool(higher and not_lower and significant)
    out["direction_only"] = bool(higher and not_lower)
    return out


def study_markdown(
    settings: dict[str, Any],
    summary: Sequence[dict[str, Any]],
    baselines: Sequence[dict[str, Any]],
    claim: dict[str, Any],
) -> str:
    """The report: settings, the table, the claim's test, the figures."""
    from emorl.agents.report import cell

    header = "| policy | " + " | ".join(h for _, h, _ in STUDY_METRICS) + " |"
    lines = [
        "# Reward study on EmoDialogue-v1",
        "",
        f"{settings['algo'].upper()}, {settings['seeds']} seeds per reward variant, "
        f"{settings['timesteps']:,} environment steps each, recognizer "
        f"`{settings['recognizer']}`, {settings['episodes']} evaluation calls per agent "
        f"(the same calls for every agent and baseline); wall time "
        f"{settings['wall_seconds'] / 60:.1f} min. Agents: mean over seeds [Student's t 95 %]; "
        "baselines: one evaluation [Wilson 95 % for rates, t for means]. Success and mood "
        "are the simulator's truth, not the recognizer's.",
        "",
        header,
        "|---|" + "---:|" * len(STUDY_METRICS),
    ]
    for row in list(summary) + list(baselines):
        lines.append(
            f"| {row['policy']} | "
            + " | ".join(cell(row[k], f) for k, _, f in STUDY_METRICS)
            + " |"
        )
    lines += [
        "",
        "Success per seed: "
        + "; ".join(
            f"{row['policy']} " + ", ".join(f"{v:.0%}" for v in row["per_seed_success"])
            for row in summary
        )
        + ".",
    ]
    lines += ["", "## The claim: delta_est beats level where bad news is unavoidable", ""]
    if not claim.get("tested"):
        lines.append(f"Not tested: {claim.get('why')}.")
    else:
        for key in ("bad_news_success_rate", "success_rate", "final_mood", "bad_news_final_mood"):
            c = claim[key]
            p = "n/a" if c["welch_p"] is None else f"{c['welch_p']:.3f}"
            lines.append(
                f"- {key}: delta_est {c['delta_est']:+.3f}, level {c['level']:+.3f}, "
                f"difference {c['difference']:+.3f} (Welch p = {p})"
            )
        verdict = (
            "supported"
            if claim["supported"]
            else "in the claimed direction but not significant"
            if claim["direction_only"]
            else "not supported"
        )
        lines += ["", f"Verdict: **{verdict}** by these runs."]
    lines += ["", "![learning curves](learning_curves.png)", "", "![bars](bars.png)", ""]
    return "\n".join(lines)
