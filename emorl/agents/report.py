"""Comparison tables (rich and markdown) and figures (PNG) of evaluated policies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = (
    ("success_rate", "success", "{:.1%}"),
    ("hangup_rate", "hang-up", "{:.1%}"),
    ("final_mood", "final mood", "{:+.3f}"),
    ("turns", "turns", "{:.2f}"),
    ("true_reward", "true-emotion reward", "{:+.3f}"),
)


def cell(metric: dict[str, float], fmt: str) -> str:
    """``value [low, high]``."""
    return (
        f"{fmt.format(metric['value'])} [{fmt.format(metric['low'])}, {fmt.format(metric['high'])}]"
    )


def print_comparison(results: Sequence[dict[str, Any]], title: str) -> None:
    """A rich table of policies × metrics with 95 % intervals (to stdout)."""
    from rich.table import Table

    from emorl.console import make_console

    table = Table(title=title)
    table.add_column("policy")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    for result in results:
        table.add_row(result["policy"], *(cell(result[k], f) for k, _, f in COLUMNS))
    make_console(width=160).print(table)


def markdown_table(results: Sequence[dict[str, Any]]) -> str:
    """The same table in markdown."""
    header = "| policy | " + " | ".join(h for _, h, _ in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    rows = [
        f"| {r['policy']} | " + " | ".join(cell(r[k], f) for k, _, f in COLUMNS) + " |"
        for r in results
    ]
    return "\n".join([header, rule, *rows])


def bar_chart(results: Sequence[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """Success rate and final mood per policy with 95 % interval whiskers, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["policy"] for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(max(6, 1.3 * len(names) + 3), 3.6))
    for ax, key, label in zip(
        axes, ("success_rate", "final_mood"), ("success rate", "final mood (valence)"), strict=True
    ):
        vals = np.array([r[key]["value"] for r in results])
        lows = np.array([r[key]["low"] for r in results])
        highs = np.array([r[key]["high"] for r in results])
        err = np.clip(np.stack([vals - lows, highs - vals]), 0.0, None)
        ax.bar(range(len(names)), vals, yerr=err, capsize=4, color="tab:blue")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_ylabel(label)
        ax.axhline(0, color="black", lw=0.6)
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, out)


def comparison_forest(
    cells: Sequence[dict[str, Any]],
    out: str | Path,
    title: str = "",
    metrics: Sequence[tuple[str, str]] = (
        ("bad_news_success_rate", "success on bad-news calls"),
        ("bad_news_final_mood", "final mood on bad-news calls"),
    ),
) -> Path:
    """Per cell (rows) each arm's difference from ``level`` (a study cell's ``claim``) with
    its interval, one panel per metric, as PNG: how a comparison moves across the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = sorted({a for c in cells for a, v in c["claim"].items() if v.get("tested")})
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(5 * len(metrics), 0.7 * len(cells) + 1.6), sharey=True
    )
    axes = np.atleast_1d(axes)
    rows = np.arange(len(cells))[::-1]
    for ax, (key, label) in zip(axes, metrics, strict=True):
        for j, arm in enumerate(arms):
            y = rows + (j - (len(arms) - 1) / 2) * 0.18
            found = [c["claim"].get(arm, {}).get(key) for c in cells]
            vals = np.array([f["difference"] if f else np.nan for f in found])
            lows = np.array([f["low"] if f else np.nan for f in found])
            highs = np.array([f["high"] if f else np.nan for f in found])
            err = np.clip(np.stack([vals - lows, highs - vals]), 0.0, None)
            ax.errorbar(vals, y, xerr=err, fmt="o", capsize=3, label=f"{arm} − level")
        ax.axvline(0, color="black", lw=0.6)
        ax.set_xlabel(label)
    axes[0].set_yticks(rows, [c["cell"].replace(", ", "\n") for c in cells], fontsize=7)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, out)


def learning_curves(
    curves: dict[str, list[Path]], out: str | Path, title: str = "", bins: int = 20
) -> Path:
    """Rolling success rate and final mood of training calls by step; one line per label,
    the mean over its runs (each a ``curve.json``) with a band of ± one standard error
    (sample standard deviation over runs, ``ddof=1``, over the square root of their number)."""
    return learning_curve_grid({"": curves}, out, title, bins)


def learning_curve_grid(
    groups: dict[str, dict[str, list[Path]]], out: str | Path, title: str = "", bins: int = 20
) -> Path:
    """:func:`learning_curves` with one row of panels per group (e.g. a study's cells,
    the group name as the row's title) and one line per label within it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(
        len(groups), 2, figsize=(10, 3.2 * len(groups) + 0.4), squeeze=False, sharex=True
    )
    for axes, (group, curves) in zip(grid, groups.items(), strict=True):
        for label, paths in curves.items():
            per_run = [r for r in (_binned(p, bins) for p in paths) if r is not None]
            if not per_run:
                continue
            x = per_run[0][0]
            for ax, col in zip(axes, (1, 2), strict=True):
                ys = np.stack([r[col] for r in per_run])
                mean = np.nanmean(ys, axis=0)
                # standard error from the sample std over runs (ddof=1); one run: no band
                se = np.zeros_like(mean)
                if len(ys) > 1:
                    se = np.nanstd(ys, axis=0, ddof=1) / np.sqrt(len(ys))
                ax.plot(x, mean, label=label)
                ax.fill_between(x, mean - se, mean + se, alpha=0.2)
        axes[0].set_ylabel("success rate (training calls)")
        axes[1].set_ylabel("final mood (training calls)")
        if group:
            axes[0].set_title(group, fontsize=9, loc="left")
        axes[0].legend(fontsize=8)
    for ax in grid[-1]:
        ax.set_xlabel("environment steps")
    fig.suptitle(title)
    fig.tight_layout()
    return save_png(fig, out)


def _binned(path: Path, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = np.asarray(data["rows"], dtype=np.float64)
    if rows.size == 0:
        return None
    edges = np.linspace(0, rows[:, 0].max(), bins + 1)
    idx = np.clip(np.digitize(rows[:, 0], edges[1:-1]), 0, bins - 1)
    succ = np.array([rows[idx == b, 1].mean() if (idx == b).any() else np.nan for b in range(bins)])
    mood = np.array([rows[idx == b, 3].mean() if (idx == b).any() else np.nan for b in range(bins)])
    return (edges[1:], succ, mood)


def save_png(fig: Any, out: str | Path) -> Path:
    """Write a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    from emorl.artifacts import atomic_write

    path = atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path
