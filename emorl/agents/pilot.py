"""The reward study's timestep budget, fixed from a pilot (docs/study.md, amendment 1).

:func:`run_pilot` trains every arm of a study spec in its primary cell with the pilot
seeds (900, 901 by default; never analysed) for ``timesteps`` steps, as Ray Tune trials
without evaluation: only training returns are read, never the endpoints.
:func:`choose_budget` then reads each run's ``curve.json``: per arm, the mean training
episode return over each window of ``window`` steps (averaged over seeds); the arm's
budget is the smallest multiple of ``window`` from which every later window mean stays
within ``tolerance`` × max(|final|, 1) of the final window's mean (5 % of it, or 0.05
where it is near zero); the study's budget is the largest over arms. The result goes to
``<out>/pilot/pilot.json`` (with a markdown table and a PNG of the window means), where a
spec with ``timesteps: pilot`` reads it (:func:`pilot_budget`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from emorl.agents.study import StudySpec

PILOT_SEEDS = (900, 901)
PILOT_STEPS = 200_000
WINDOW = 25_000
TOLERANCE = 0.05
PILOT_FILE = "pilot.json"


def window_means(curve: str | Path, total: int, window: int = WINDOW) -> np.ndarray:
    """Mean return of the training calls that ended in each window ``((k-1)w, kw]`` of
    one run's ``curve.json``, ``k = 1 .. total / window`` (NaN for a window without any)."""
    data = json.loads(Path(curve).read_text(encoding="utf-8"))
    columns = data["columns"]
    rows = np.asarray(data["rows"], dtype=np.float64).reshape(-1, len(columns))
    steps, returns = rows[:, columns.index("timesteps")], rows[:, columns.index("return")]
    n = total // window
    out = np.full(n, np.nan)
    for k in range(n):
        inside = (steps > k * window) & (steps <= (k + 1) * window)
        if inside.any():
            out[k] = float(returns[inside].mean())
    return out


def choose_budget(
    curves: Mapping[str, Sequence[str | Path]],
    total: int,
    window: int = WINDOW,
    tolerance: float = TOLERANCE,
) -> dict[str, Any]:
    """The budget rule of the module docstring applied to ``{arm: [curve.json, ...]}``."""
    if total % window or total < window:
        raise ValueError(f"pilot steps {total} must be a positive multiple of the window {window}")
    arms: dict[str, Any] = {}
    for arm, paths in curves.items():
        if not paths:
            raise ValueError(f"pilot: no runs of arm {arm!r}")
        with np.errstate(all="ignore"):
            means = np.nanmean(np.stack([window_means(p, total, window) for p in paths]), axis=0)
        final = float(means[-1])
        if not math.isfinite(final):
            raise ValueError(f"pilot: arm {arm!r} finished no training call in its last window")
        band = tolerance * max(abs(final), 1.0)
        inside = np.abs(means - final) <= band  # NaN windows count as outside
        k = len(inside)
        while k > 0 and inside[k - 1]:
            k -= 1
        arms[arm] = {
            "budget": (k + 1) * window,
            "final": final,
            "band": band,
            "window_means": [None if not math.isfinite(v) else float(v) for v in means],
        }
    return {
        "timesteps": max(a["budget"] for a in arms.values()),
        "window": window,
        "tolerance": tolerance,
        "pilot_steps": total,
        "arms": arms,
    }


def run_pilot(
    spec: StudySpec,
    out: str | Path,
    *,
    timesteps: int = PILOT_STEPS,
    window: int = WINDOW,
    seeds: Sequence[int] = PILOT_SEEDS,
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
) -> Path:
    """Train the pilot runs (every arm, ``seeds``, the primary cell) on Ray Tune, resuming,
    and write ``<out>/pilot/pilot.json``, ``pilot.md`` and ``pilot.png``; returns the JSON."""
    import time

    from emorl.agents.study import cell_key, study_estimators
    from emorl.agents.tune import run_trials
    from emorl.artifacts import atomic_write, write_json
    from emorl.reward.features import KINDS

    out = Path(out)
    folder = out / "pilot"
    begun = time.perf_counter()
    cell = spec.primary_cell or spec.cells()[0]  # a listed design without one: its first
    only_primary = spec.replace(design="listed", listed=(), primary=cell)
    estimators = study_estimators(only_primary, out, progress).get(cell_key(cell), {})
    configs = [
        {"reward": arm, "factors": dict(cell), "seed": int(seed)}
        | ({"estimator": estimators[arm]} if arm in KINDS and arm in estimators else {})
        for seed in seeds
        for arm in spec.arms
    ]
    # episodes 0: no evaluation, the pilot reads training returns only
    fixed = spec.trial_settings(int(timesteps), episodes=0)
    results = run_trials(
        configs, fixed, out=folder, workers=workers, address=ray_address, progress=progress
    )
    curves: dict[str, list[Path]] = {}
    for result in results:
        curves.setdefault(result["reward"], []).append(Path(result["run"]) / "curve.json")
    budget = choose_budget(curves, int(timesteps), window)
    report = {
        "study": spec.name,
        "cell": cell_key(cell),
        "seeds": [int(s) for s in seeds],
        "estimators": estimators,
        **budget,
        "wall_seconds": round(time.perf_counter() - begun, 1),
    }
    path = write_json(folder / PILOT_FILE, report)
    text = pilot_markdown(report)
    atomic_write(folder / "pilot.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    pilot_plot(report, folder / "pilot.png")
    return path


def pilot_budget(out: str | Path) -> int:
    """The budget a finished pilot fixed for the study in ``out``."""
    path = Path(out) / "pilot" / PILOT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the spec's timesteps is 'pilot'; run `emorl study pilot "
            f"--spec ... --out {out}` first"
        )
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["timesteps"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a pilot result ({err})") from None


def pilot_markdown(report: Mapping[str, Any]) -> str:
    """The pilot's table: per arm the window means, its final value, band and budget."""
    window = report["window"]
    n = report["pilot_steps"] // window
    head = " | ".join(f"{(k + 1) * window // 1000}k" for k in range(n))
    lines = [
        f"# Pilot of `{report['study']}`: {report['cell']}",
        "",
        f"Seeds {report['seeds']}, {report['pilot_steps']:,} steps per run; mean training "
        f"episode return per {window:,}-step window (mean over seeds). Budget: the smallest "
        f"multiple of {window:,} from which every later window stays within "
        f"{report['tolerance']:.0%} of the final window's mean (or {report['tolerance']:.2f} "
        f"where |final| < 1). **Budget: {report['timesteps']:,} steps**; wall time "
        f"{report['wall_seconds'] / 60:.1f} min.",
        "",
        f"| arm | {head} | band | budget |",
        "|---|" + "---:|" * (n + 2),
    ]
    for arm, row in report["arms"].items():
        cells = " | ".join("-" if v is None else f"{v:+.2f}" for v in row["window_means"])
        lines.append(f"| {arm} | {cells} | ±{row['band']:.2f} | {row['budget']:,} |")
    return "\n".join(lines) + "\n"


def pilot_plot(report: Mapping[str, Any], out: str | Path) -> Path:
    """Window means by step, one line per arm, the budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emorl.agents.report import save_png

    window = report["window"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, row in report["arms"].items():
        y = [np.nan if v is None else v for v in row["window_means"]]
        x = [(k + 1) * window for k in range(len(y))]
        ax.plot(x, y, marker="o", ms=3, label=arm)
    ax.axvline(report["timesteps"], color="k", ls="--", lw=1, label="budget")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"mean training return per {window // 1000}k steps")
    ax.set_title(f"Pilot: {report['cell']}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_png(fig, out)
