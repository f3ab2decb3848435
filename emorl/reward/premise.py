"""The premise check: does the paper's dilemma exist in this environment at all?

The dilemma (IEmoNet, section 3): a naive ``level`` reward punishes the caller's anger at
unavoidable bad news, so an agent learns to avoid the news (escalate, or never say it);
a reward that expects the reaction (eq. 1 and 2) does not. Before any agent is trained,
this check plays the fixed policies of :mod:`emorl.envs.policies` on the same seeded calls
and computes every policy's discounted return (γ = 0.99 by default) under every reward
variant and every level of the factors (``success_bonus``, ``escalation_cost``,
``hangup_penalty``, which only change the task term, and environment factors such as
``lingering``, which change the caller and need their own rollouts and estimators), split
by call type: calls that can be granted and calls that cannot.

Per cell (factor levels) and variant, the *avoidance gap* is the mean over the calls that
cannot be granted of (return of an avoiding policy − return of ``scripted``), paired by
call, for the best of ``escalate-instead``, ``soothe-then-escalate`` and ``skip-the-news``,
with a bootstrap 95 % interval over calls. The dilemma **exists** in a cell when ``level``
prefers avoiding the news (gap > 0) while neither ``eq1`` nor ``eq2`` does (gap ≤ 0); it
exists *clearly* when ``level``'s interval lies above 0 and those of ``eq1`` and ``eq2``
below it. The emotion terms are computed from the logged transitions with the same
functions the environment uses (:meth:`EmotionReward.batch`, :func:`task_reward`), so a
policy's return here is its return in the environment.

The estimators for ``eq1``, ``eq2`` and ``eq2_no_badnews`` are fitted per level of the
environment factors on rollouts of the same recognizer (behaviour ``epsilon-scripted:0.5``,
calls seeded from ``estimator_seed``, apart from the evaluation calls), cached under
``<out>/estimators``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorl.reward.emotion_reward import VARIANTS, EmotionReward
from emorl.reward.estimator import RewardEstimator
from emorl.reward.features import KINDS
from emorl.reward.training import Rollouts

#: Factors that change only the task term (no new rollouts needed).
TASK_FACTORS = ("success_bonus", "hangup_penalty", "escalation_cost")
CALL_TYPES = ("refused", "grantable", "all")
GAMMA = 0.99


def parse_factor_levels(factors: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    """Validated factors: each a non-empty list of levels; task factors finite numbers
    (``escalation_cost`` ≥ 0)."""
    out: dict[str, list[Any]] = {}
    for name, levels in (factors or {}).items():
        levels = list(levels) if isinstance(levels, (list, tuple)) else [levels]
        if not levels:
            raise ValueError(f"factor {name!r}: give at least one level")
        if name in ("reward", "estimator", "recognizer", "simulator"):
            raise ValueError(f"factor {name!r}: not a factor of the premise check")
        if name in TASK_FACTORS:
            for v in levels:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"factor {name!r}: level {v!r} is not a finite number")
                if name == "escalation_cost" and v < 0:
                    raise ValueError(f"factor {name!r}: level {v!r} is below 0")
        out[name] = levels
    return out


def grid(factors: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the factor levels (one empty cell without factors)."""
    names = list(factors)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*factors.values())]


def emotion_terms(
    log: Rollouts,
    estimators: Mapping[str, RewardEstimator],
    reward: EmotionReward | None = None,
) -> dict[str, np.ndarray]:
    """Every variant's emotion reward for each logged transition, ``(n,)`` per variant."""
    reward = reward or EmotionReward()
    out: dict[str, np.ndarray] = {}
    base = reward.batch(log.posteriors, log.previous, exempt=log.exempt)
    for variant in VARIANTS:
        kind = variant if variant in KINDS else None
        if kind is None:
            out[variant] = EmotionReward.select(base, variant)
            continue
        est = estimators[kind]
        pred = est.predict(log.obs, log.acts, log.past_p, log.past_a)
        if kind == "eq1":
            terms = reward.batch(log.posteriors, log.previous, delta_p_est=pred, exempt=log.exempt)
        else:
            terms = reward.batch(log.posteriors, log.previous, r_est=pred[:, 0], exempt=log.exempt)
        out[variant] = EmotionReward.select(terms, variant)
    return out


def task_terms(log: Rollouts, levels: Mapping[str, float]) -> np.ndarray:
    """The task term of each transition (:func:`~emorl.envs.emo_dialogue.task_reward`)."""
    from emorl.envs.emo_dialogue import task_reward

    kw = {k: float(levels.get(k, 0.0)) for k in TASK_FACTORS}
    table = {o: task_reward(o or None, **kw) for o in np.unique(log.outcome)}
    table["turn_limit"] = 0.0
    return np.array([table[o] for o in log.outcome])


def call_returns(log: Rollouts, rewards: np.ndarray, calls: int, gamma: float) -> np.ndarray:
    """Discounted return of each call (``calls`` of them, indexed by ``log.episode``)."""
    return np.bincount(log.episode, weights=rewards * gamma**log.step, minlength=calls)


def _interval(values: np.ndarray) -> dict[str, Any]:
    from emorl.agents import stats

    if len(values) >= 2 and np.ptp(values) > 0:
        return stats.mean_interval(values, method="bootstrap").to_dict()
    return stats.mean(values)


def premise_check(
    out: str | Path,
    *,
    episodes: int = 80,
    factors: Mapping[str, Sequence[Any]] | None = None,
    recognizer: str = "text",
    env_kwargs: Mapping[str, Any] | None = None,
    seed: int = 10_000,
    estimator_episodes: int = 1000,
    estimator_seed: int = 0,
    gamma: float = GAMMA,
    policies: Sequence[str] | None = None,
    progress: bool = True,
) -> Path:
    """Run the check; write ``premise.json``, ``premise.md`` and ``premise.png`` in ``out``
    and return the markdown's path."""
    from emorl.artifacts import atomic_write, write_json
    from emorl.envs.policies import AVOIDING_THE_NEWS, FIXED_POLICIES
    from emorl.reward.training import collect_rollouts, estimators_for

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 2:
        raise ValueError(f"episodes must be an integer of at least 2, got {episodes!r}")
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    policies = list(policies or FIXED_POLICIES)
    unknown = [p for p in policies if p not in FIXED_POLICIES]
    if unknown or "scripted" not in policies:
        raise ValueError(f"policies must include 'scripted' and name {list(FIXED_POLICIES)}")
    factors = parse_factor_levels(factors)
    task = {k: v for k, v in factors.items() if k in TASK_FACTORS}
    dynamic = {k: v for k, v in factors.items() if k not in TASK_FACTORS}
    out = Path(out)
    begun = time.perf_counter()
    base = {**(env_kwargs or {}), "recognizer": recognizer}
    cells: list[dict[str, Any]] = []
    estimator_info: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for d_levels in grid(dynamic):
        kwargs = {**base, **d_levels}
        estimators = estimators_for(
            kwargs,
            KINDS,
            episodes=estimator_episodes,
            seed=estimator_seed,
            cache=out / "estimators",
            progress=progress,
        )
        estimator_info.append(
            {
                "factors": d_levels,
                **{
                    k: {
                        "folder": e.metadata.get("folder"),
                        "features": e.feature_set.name,
                        "held_out": _short(e.metadata.get("metrics", {}).get("held_out", {})),
                    }
                    for k, e in estimators.items()
                },
            }
        )
        logs: dict[str, Rollouts] = {}
        terms: dict[str, dict[str, np.ndarray]] = {}
        for policy in policies:
            logs[policy], _ = collect_rollouts(
                episodes,
                seed=seed,
                behaviour=policy,
                env_kwargs=kwargs,
                progress=progress,
                description=f"{policy}",
            )
            terms[policy] = emotion_terms(logs[policy], estimators)
        grantable = _grantable(logs["scripted"], episodes)
        checks.append({"factors": d_levels, **term_checks(logs["scripted"], terms["scripted"])})
        for t_levels in grid(task):
            cells.append(
                _cell(
                    {**d_levels, **t_levels},
                    logs,
                    terms,
                    t_levels,
                    grantable,
                    gamma,
                    episodes,
                    AVOIDING_THE_NEWS,
                )  # fmt: skip
            )
    settings = {
        "episodes": episodes,
        "refused_calls": int((~_grantable(logs["scripted"], episodes)).sum()),
        "seed": seed,
        "recognizer": recognizer,
        "env_kwargs": {k: str(v) if isinstance(v, Path) else v for k, v in base.items()},
        "factors": factors,
        "gamma": gamma,
        "policies": policies,
        "estimators": {
            "episodes": estimator_episodes,
            "seed": estimator_seed,
            "behaviour": "epsilon-scripted:0.5",
            "fitted": estimator_info,
        },
        "wall_seconds": round(time.perf_counter() - begun, 1),
    }
    result = {
        "settings": settings,
        "cells": cells,
        "summary": summarise(cells),
        "terms": checks,
    }
    write_json(out / "premise.json", result)
    premise_figure(cells, out / "premise.png")
    text = premise_markdown(result)
    report = atomic_write(out / "premise.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return report


def term_checks(log: Rollouts, terms: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """On one policy's transitions: each variant's mean emotion reward on the replies to
    unavoidable bad news and elsewhere, its correlation with ``level``, and how close
    ``eq1`` and ``eq2`` are."""
    bad = log.exempt
    level = terms["level"]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else math.nan

    return {
        "transitions": int(len(log)),
        "bad_news_transitions": int(bad.sum()),
        "variants": {
            v: {
                "bad_news_mean": float(terms[v][bad].mean()) if bad.any() else math.nan,
                "other_mean": float(terms[v][~bad].mean()) if (~bad).any() else math.nan,
                "corr_level": corr(terms[v], level),
            }
            for v in VARIANTS
            if v != "none"
        },
        "corr_eq1_eq2": corr(terms["eq1"], terms["eq2"]),
        "mean_abs_eq1_minus_eq2": float(np.abs(terms["eq1"] - terms["eq2"]).mean()),
    }


def _short(metrics: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("r2", "r2_reward_term", "corr_reward_level")
    return {k: metrics[k] for k in keys if k in metrics}


def _grantable(log: Rollouts, calls: int) -> np.ndarray:
    out = np.zeros(calls, dtype=bool)
    out[log.episode] = log.grantable
    return out


def _cell(
    levels: dict[str, Any],
    logs: Mapping[str, Rollouts],
    terms: Mapping[str, Mapping[str, np.ndarray]],
    task_levels: Mapping[str, float],
    grantable: np.ndarray,
    gamma: float,
    calls: int,
    avoiding: Sequence[str],
) -> dict[str, Any]:
    """Returns by policy, variant and call type; avoidance and padding gaps; the verdict."""
    masks = {"refused": ~grantable, "grantable": grantable, "all": np.ones(calls, bool)}
    returns = {
        policy: {
            variant: call_returns(
                log, terms[policy][variant] + task_terms(log, task_levels), calls, gamma
            )  # fmt: skip
            for variant in VARIANTS
        }
        for policy, log in logs.items()
    }
    variants: dict[str, Any] = {}
    for variant in VARIANTS:
        scripted = returns["scripted"][variant]
        row: dict[str, Any] = {
            "returns": {
                ct: {p: _interval(returns[p][variant][m]) for p in returns}
                for ct, m in masks.items()
            }
        }
        gaps = {
            p: _interval(returns[p][variant][masks["refused"]] - scripted[masks["refused"]])
            for p in avoiding
            if p in returns
        }
        if gaps:
            best = max(gaps, key=lambda p: gaps[p]["value"])
            row["avoid_gap"] = gaps
            row["best_avoiding"] = best
            row["prefers_avoiding"] = bool(gaps[best]["value"] > 0)
            row["clearly_prefers_avoiding"] = bool(gaps[best]["low"] > 0)
            row["clearly_prefers_the_news"] = bool(all(g["high"] < 0 for g in gaps.values()))
        if "pad-with-courtesy" in returns:
            m = masks["grantable"]
            row["padding_gap"] = _interval(returns["pad-with-courtesy"][variant][m] - scripted[m])
        variants[variant] = row
    dilemma = verdict = None
    if all("prefers_avoiding" in variants[v] for v in ("level", "eq1", "eq2")):
        level, eq1, eq2 = (variants[v] for v in ("level", "eq1", "eq2"))
        dilemma = (
            level["prefers_avoiding"]
            and not eq1["prefers_avoiding"]
            and not (eq2["prefers_avoiding"])
        )
        clear = (
            level["clearly_prefers_avoiding"]
            and eq1["clearly_prefers_the_news"]
            and eq2["clearly_prefers_the_news"]
        )
        verdict = (
            "dilemma (clear)"
            if dilemma and clear
            else "dilemma"
            if dilemma
            else "level does not avoid the news"
            if not level["prefers_avoiding"]
            else "eq1/eq2 avoid it too"
        )
    return {"factors": levels, "variants": variants, "dilemma": dilemma, "verdict": verdict}


def summarise(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many cells show the dilemma, and which do."""
    with_dilemma = [c["factors"] for c in cells if c.get("dilemma")]
    return {
        "cells": len(cells),
        "dilemma_cells": len(with_dilemma),
        "with_dilemma": with_dilemma,
        "level_avoids_cells": sum(
            bool(c["variants"]["level"].get("prefers_avoiding")) for c in cells
        ),
    }


def _label(levels: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in levels.items()) or "(defaults)"


SHORT = {
    "escalate-instead": "esc",
    "soothe-then-escalate": "soothe+esc",
    "skip-the-news": "skip",
}


def premise_markdown(result: Mapping[str, Any]) -> str:
    """The report: settings, the dilemma table, returns on refused calls, padding."""
    s, cells, summary = result["settings"], result["cells"], result["summary"]
    lines = [
        "# Premise check: does `level` scare the agent off unavoidable bad news?",
        "",
        f"{s['episodes']} calls (call i seeded {s['seed']} + i; {s['refused_calls']} cannot be "
        f"granted), the same calls for every policy; recognizer `{s['recognizer']}`; "
        f"discounted returns, γ = {s['gamma']}; estimators fitted per level of the "
        f"environment factors on {s['estimators']['episodes']} calls of "
        f"`{s['estimators']['behaviour']}`; wall time {s['wall_seconds']:.0f} s. "
        f"Intervals: bootstrap 95 % over calls.",
        "",
        f"**The dilemma exists in {summary['dilemma_cells']} of {summary['cells']} cells** "
        f"(`level` prefers avoiding the news in {summary['level_avoids_cells']}).",
        "",
        "## Avoidance gap on calls that cannot be granted",
        "",
        "Mean over those calls of (return of the best avoiding policy − return of "
        "`scripted`), paired by call; > 0: the variant prefers avoiding the news "
        "(`esc` escalate-instead, `soothe+esc` soothe-then-escalate, `skip` skip-the-news).",
        "",
        "| cell | " + " | ".join(VARIANTS) + " | verdict |",
        "|---|" + "---:|" * len(VARIANTS) + "---|",
    ]
    for c in cells:
        row = []
        for v in VARIANTS:
            entry = c["variants"][v]
            if "best_avoiding" not in entry:
                row.append("-")
                continue
            g = entry["avoid_gap"][entry["best_avoiding"]]
            mark = "**" if entry["prefers_avoiding"] else ""
            row.append(
                f"{mark}{g['value']:+.2f}{mark} [{g['low']:+.2f}, {g['high']:+.2f}] "
                f"{SHORT.get(entry['best_avoiding'], entry['best_avoiding'])}"
            )
        lines.append(f"| {_label(c['factors'])} | " + " | ".join(row) + f" | {c['verdict']} |")
    policies = s["policies"]
    lines += [
        "",
        "## Returns on calls that cannot be granted",
        "",
        "| cell | variant | " + " | ".join(policies) + " |",
        "|---|---|" + "---:|" * len(policies),
    ]
    for c in cells:
        for v in VARIANTS:
            r = c["variants"][v]["returns"]["refused"]
            lines.append(
                f"| {_label(c['factors'])} | {v} | "
                + " | ".join(f"{r[p]['value']:+.2f}" for p in policies)
                + " |"
            )
    if "pad-with-courtesy" in policies:
        lines += [
            "",
            "## Padding with courtesy on calls that can be granted",
            "",
            "Mean of (return of `pad-with-courtesy` − return of `scripted`) over the calls "
            "that can be granted; > 0: the variant pays for extra courtesy turns.",
            "",
            "| cell | " + " | ".join(VARIANTS) + " |",
            "|---|" + "---:|" * len(VARIANTS),
        ]
        for c in cells:
            gaps = [c["variants"][v]["padding_gap"] for v in VARIANTS]
            lines.append(
                f"| {_label(c['factors'])} | "
                + " | ".join(f"{g['value']:+.2f}" for g in gaps)
                + " |"
            )
    shown = [v for v in VARIANTS if v != "none"]
    lines += [
        "",
        "## The emotion terms on the scripted agent's transitions",
        "",
        "Mean emotion reward on the replies to unavoidable bad news / on every other turn, "
        "and the correlation with `level` over all its turns (per level of the environment "
        "factors); `eq1` against `eq2`: correlation and mean absolute difference.",
        "",
        "| environment | " + " | ".join(shown) + " | eq1 vs eq2 |",
        "|---|" + "---:|" * (len(shown) + 1),
    ]
    for t in result.get("terms", []):
        row = [
            f"{t['variants'][v]['bad_news_mean']:+.2f} / {t['variants'][v]['other_mean']:+.2f}, "
            f"r {t['variants'][v]['corr_level']:.2f}"
            for v in shown
        ]
        lines.append(
            f"| {_label(t['factors'])} | " + " | ".join(row)
            + f" | r {t['corr_eq1_eq2']:.3f}, {t['mean_abs_eq1_minus_eq2']:.3f} |"
        )  # fmt: skip
    lines += ["", "![avoidance gap](premise.png)", ""]
    return "\n".join(lines)


def premise_figure(cells: Sequence[Mapping[str, Any]], out: str | Path) -> Path:
    """The avoidance gap per cell (rows) and variant (columns) as an annotated heatmap
    (red: the variant prefers avoiding the news; the colour saturates at ±1.5), PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    from emorl.agents.report import save_png

    shown = [v for v in VARIANTS if v != "none"]
    gaps = np.array(
        [
            [c["variants"][v]["avoid_gap"][c["variants"][v]["best_avoiding"]]["value"]
             for v in shown]
            for c in cells
        ]
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(1.3 * len(shown) + 3.5, 0.32 * len(cells) + 1.6))
    norm = TwoSlopeNorm(vmin=-1.5, vcenter=0.0, vmax=1.5)
    ax.imshow(np.clip(gaps, -1.5, 1.5), cmap="RdBu_r", norm=norm, aspect="auto")
    for i in range(gaps.shape[0]):
        for j in range(gaps.shape[1]):
            colour = "white" if abs(gaps[i, j]) > 1.0 else "black"
            ax.text(j, i, f"{gaps[i, j]:+.2f}", ha="center", va="center", fontsize=7,
                    color=colour)  # fmt: skip
    ax.set_xticks(range(len(shown)), shown, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(cells)), [_label(c["factors"]) for c in cells], fontsize=7)
    ax.set_title(
        "Best avoiding policy − scripted, calls that cannot be granted\n"
        "(> 0, red: the variant prefers avoiding the bad news)",
        fontsize=9,
    )
    fig.tight_layout()
    return save_png(fig, out)
