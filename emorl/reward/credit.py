"""Credit assignment: how much of each variant's reward is the act, how much the old mood.

For every turn the simulator knows the act's true effect on the caller (the valence
impulse of the caller's appraisal of the act, bad news scaled by ``expected_reaction``,
without the turn's noise; :attr:`emorl.reward.training.Rollouts.effect`) and the caller's
true mood valence before the act. Per reward variant and lingering strength, the turn's
emotion reward is regressed (ordinary least squares, numpy) on

* ``effect``: the act's effect, for every act but unavoidable bad news,
* ``bad_news_effect``: the act's effect when it is unavoidable bad news (0 otherwise),
* ``mood_before``: the true valence before the act,

with an intercept. The weight on ``mood_before`` is the *leak* of a lingering mood into
the reward (``level`` inherits it, ``delta`` charges its rebound the other way); the
weight on ``effect`` is how much of an act's own effect the reward passes on; the weight
on ``bad_news_effect`` is how much unavoidable bad news is punished (the paper wants it
near 0). Intervals: bootstrap over calls (resampled with replacement, percentile 95 %,
seeded). The estimators of ``eq1``/``eq2``/``eq2_no_badnews`` are fitted per lingering
level on other calls of the same recognizer (:func:`~emorl.reward.training.estimators_for`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorl.reward.emotion_reward import VARIANTS
from emorl.reward.features import KINDS
from emorl.reward.training import Rollouts

REGRESSORS = ("effect", "bad_news_effect", "mood_before")


def design(log: Rollouts) -> tuple[np.ndarray, np.ndarray]:
    """``(rows kept, X)``: the regressors of :data:`REGRESSORS` for rows with a known effect."""
    keep = np.isfinite(log.effect) & np.isfinite(log.valence_before)
    bad = log.exempt[keep]
    effect = log.effect[keep]
    x = np.stack([np.where(bad, 0.0, effect), np.where(bad, effect, 0.0),
                  log.valence_before[keep]], axis=1)  # fmt: skip
    return keep, x


def _ols(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Intercept and slopes by least squares (numpy ``lstsq``)."""
    a = np.concatenate([np.ones((len(x), 1)), x], axis=1)
    return np.linalg.lstsq(a, y, rcond=None)[0]


def regress(
    x: np.ndarray,
    y: np.ndarray,
    calls: np.ndarray,
    *,
    resamples: int = 999,
    seed: int = 0,
) -> dict[str, Any]:
    """Slopes with bootstrap-over-calls 95 % intervals, intercept and R²."""
    beta = _ols(x, y)
    fitted = np.concatenate([np.ones((len(x), 1)), x], axis=1) @ beta
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else float("nan")
    ids, inverse = np.unique(calls, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == k) for k in range(len(ids))]
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, x.shape[1]))
    for b in range(resamples):
        pick = rng.integers(len(ids), size=len(ids))
        rows = np.concatenate([rows_of[k] for k in pick])
        draws[b] = _ols(x[rows], y[rows])[1:]
    low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    out: dict[str, Any] = {
        name: {"value": float(beta[i + 1]), "low": float(low[i]), "high": float(high[i]),
               "method": f"bootstrap over calls, percentile, {resamples} resamples"}
        for i, name in enumerate(REGRESSORS)
    }  # fmt: skip
    out["intercept"] = float(beta[0])
    out["r2"] = r2
    out["rows"] = int(len(y))
    out["calls"] = int(len(ids))
    return out


def credit_study(
    out: str | Path,
    *,
    lingering: Sequence[float] = (0.0, 0.5, 0.95),
    episodes: int = 400,
    recognizer: str = "text",
    env_kwargs: Mapping[str, Any] | None = None,
    behaviour: str = "epsilon-scripted:0.5",
    seed: int = 10_000,
    estimator_episodes: int = 1000,
    estimator_seed: int = 0,
    resamples: int = 999,
    progress: bool = True,
) -> Path:
    """Run the study; write ``credit.json``, ``credit.md`` and ``credit.png`` in ``out``
    and return the markdown's path."""
    from emorl.artifacts import atomic_write, write_json
    from emorl.reward.premise import emotion_terms
    from emorl.reward.training import collect_rollouts, estimators_for
    from emorl.simulator.mood import RANGES

    low, high = RANGES["lingering"]
    levels = [float(v) for v in lingering]
    if not levels or any(not low <= v <= high for v in levels):
        raise ValueError(f"lingering: give levels in [{low}, {high}], got {list(lingering)}")
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 2:
        raise ValueError(f"episodes must be an integer of at least 2, got {episodes!r}")
    if resamples < 10:
        raise ValueError(f"resamples must be at least 10, got {resamples!r}")
    out = Path(out)
    begun = time.perf_counter()
    base = {**(env_kwargs or {}), "recognizer": recognizer}
    rows: list[dict[str, Any]] = []
    for level in levels:
        kwargs = {**base, "lingering": level}
        estimators = estimators_for(
            kwargs,
            KINDS,
            episodes=estimator_episodes,
            seed=estimator_seed,
            cache=out / "estimators",
            progress=progress,
        )
        log, _ = collect_rollouts(
            episodes,
            seed=seed,
            behaviour=behaviour,
            env_kwargs=kwargs,
            progress=progress,
            description=f"lingering {level}",
        )
        keep, x = design(log)
        terms = emotion_terms(log, estimators)
        for variant in VARIANTS:
            if variant == "none":
                continue
            fit = regress(x, terms[variant][keep], log.episode[keep], resamples=resamples)
            rows.append({"lingering": level, "variant": variant, **fit})
    settings = {
        "lingering": levels,
        "episodes": episodes,
        "seed": seed,
        "behaviour": behaviour,
        "recognizer": recognizer,
        "env_kwargs": {k: str(v) if isinstance(v, Path) else v for k, v in base.items()},
        "estimators": {"episodes": estimator_episodes, "seed": estimator_seed},
        "resamples": resamples,
        "wall_seconds": round(time.perf_counter() - begun, 1),
    }
    result = {"settings": settings, "rows": rows}
    write_json(out / "credit.json", result)
    credit_figure(rows, out / "credit.png")
    text = credit_markdown(result)
    return atomic_write(out / "credit.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _ci(entry: Mapping[str, Any]) -> str:
    return f"{entry['value']:+.3f} [{entry['low']:+.3f}, {entry['high']:+.3f}]"


def credit_markdown(result: Mapping[str, Any]) -> str:
    """The table: per lingering level and variant, the three weights, R² and rows."""
    s, rows = result["settings"], result["rows"]
    lines = [
        "# Credit assignment: the act's effect against the lingering mood",
        "",
        f"{s['episodes']} calls per lingering level (call i seeded {s['seed']} + i, behaviour "
        f"`{s['behaviour']}`), recognizer `{s['recognizer']}`; estimators fitted per level "
        f"on {s['estimators']['episodes']} other calls. Each turn's emotion reward regressed "
        "on the act's true valence effect (other acts; unavoidable bad news) and the true "
        "mood valence before the act, with an intercept; 95 % intervals by bootstrap over "
        f"calls ({s['resamples']} resamples); wall time {s['wall_seconds']:.0f} s.",
        "",
        "| lingering | variant | effect of the act | effect of unavoidable bad news "
        "| mood before (leak) | R² | turns |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['lingering']:g} | {r['variant']} | {_ci(r['effect'])} | "
            f"{_ci(r['bad_news_effect'])} | {_ci(r['mood_before'])} | {r['r2']:.3f} | "
            f"{r['rows']:,} |"
        )
    lines += [
        "",
        "A reward that credits the act and not the mood it inherited has a leak near 0; "
        "`level` inherits the old mood (leak > 0), `delta` pays for its rebound (leak < 0).",
        "",
        "![credit](credit.png)",
        "",
    ]
    return "\n".join(lines)


def credit_figure(rows: Sequence[Mapping[str, Any]], out: str | Path) -> Path:
    """Per variant, the leak and the act's weight against lingering, with 95 % whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emorl.agents.report import save_png

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    panels = zip(
        axes,
        ("mood_before", "effect", "bad_news_effect"),
        ("leak: weight on mood before", "weight on the act's effect",
         "weight on unavoidable bad news"),
        strict=True,
    )  # fmt: skip
    for ax, key, title in panels:
        for k, v in enumerate(variants):
            mine = [r for r in rows if r["variant"] == v]
            x = np.array([r["lingering"] for r in mine]) + (k - len(variants) / 2) * 0.008
            y = np.array([r[key]["value"] for r in mine])
            err = np.clip(
                np.array([y - [r[key]["low"] for r in mine], [r[key]["high"] for r in mine] - y]),
                0.0,
                None,
            )
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=v)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel("lingering")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, out)
