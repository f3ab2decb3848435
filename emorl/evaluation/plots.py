"""Headless PNG plots of evaluation results.

matplotlib is imported inside each function (importing ``emorl.evaluation`` stays
fast) and figures are drawn on an explicit Agg canvas, never through ``pyplot``:
no display is needed and the caller's pyplot backend and state are left untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _new_figure(width: float, height: float) -> Figure:
    """A figure bound to an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=150)
    return out


def _row_percent(cm: np.ndarray) -> np.ndarray:
    """Each row as percentages of its total (all-zero rows stay 0)."""
    totals = cm.sum(axis=1, keepdims=True).astype(np.float64)
    out = np.zeros(cm.shape, dtype=np.float64)
    np.divide(100.0 * cm, totals, out=out, where=totals > 0)
    return out


def plot_confusion_matrix(
    confusion: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | Path,
    *,
    normalize: bool = True,
    title: str | None = None,
) -> Path:
    """Write a confusion-matrix heat map as PNG and return its path.

    With ``normalize`` the colours are row percentages (share of each true class) and
    every cell shows ``pct%`` over its count; otherwise colours and text are counts.
    Parent directories are created.
    """
    cm = np.asarray(confusion)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"confusion has shape {cm.shape}, expected ({k}, {k}) for the labels")
    values = _row_percent(cm) if normalize else cm.astype(np.float64)
    vmax = 100.0 if normalize else max(float(values.max()), 1.0)
    size = max(4.0, 0.8 * k + 2.5)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(image, ax=ax, label="% of true class" if normalize else "count")
    font = max(6, 11 - k // 3)
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:.1f}%\n({int(cm[i, j])})" if normalize else f"{int(cm[i, j])}"
            colour = "white" if values[i, j] > vmax / 2 else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=font)
    ax.set_xticks(range(k), labels=list(labels), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_learning_curves(
    history: Mapping[str, Sequence[float]],
    path: str | Path,
    *,
    xlabel: str = "epoch",
    title: str | None = None,
) -> Path:
    """Write one line per series of ``history`` (e.g. train_loss, val_ua) as PNG.

    x runs 1..len(series). When both loss series (name containing ``loss``) and other
    metrics are present, the metrics go on a second y axis so both scales stay
    readable. Empty series are skipped; no non-empty series raises ``ValueError``.
    """
    series = {name: np.asarray(v, dtype=np.float64) for name, v in history.items() if len(v)}
    if not series:
        raise ValueError("history holds no non-empty series")
    fig = _new_figure(7.0, 4.5)
    ax = fig.add_subplot()
    losses = [name for name in series if "loss" in name.lower()]
    split_axes = 0 < len(losses) < len(series)
    other_ax = ax.twinx() if split_axes else ax
    colours = [f"C{i}" for i in range(len(series))]
    handles = []
    for colour, (name, values) in zip(colours, series.items(), strict=True):
        target = ax if (not split_axes or name in losses) else other_ax
        x = np.arange(1, values.size + 1)
        marker = "o" if values.size <= 30 else None
        (line,) = target.plot(x, values, label=name, color=colour, marker=marker, markersize=3)
        handles.append(line)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss" if split_axes else "value")
    if split_axes:
        other_ax.set_ylabel("metric")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    # Below the plot: a legend inside could hide a line of the other y axis.
    other_ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=min(len(handles), 4),
        frameon=False,
    )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)
