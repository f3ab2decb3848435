"""The paper's cross-validation protocol: k folds x several initialisation seeds.

The folds are drawn once (``split_seed``) and reused for every seed, so seeds differ
only in model initialisation. Scores are reported as mean ± std over all fold x seed
runs, the std being the sample standard deviation (``ddof=1``). With a ``journal`` file,
each finished run's predictions are written to it atomically, and a rerun with the same
``key`` skips the runs already there, so an interrupted cross-validation resumes instead
of starting over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.evaluation.metrics import ClassificationReport, classification_report
from emorl.evaluation.splits import group_kfold, kfold

FitPredict = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
CORE_METRICS: tuple[str, ...] = ("accuracy", "ua", "macro_f1")


@dataclass
class CVRun:
    """The test-fold report of one model trained on one fold with one seed."""

    fold: int
    seed: int
    report: ClassificationReport


@dataclass
class CVResult:
    """All runs of a cross-validation; statistics are over every fold x seed run."""

    labels: tuple[str, ...]
    runs: list[CVRun] = field(default_factory=list)

    def values(self, metric: str) -> np.ndarray:
        """One value of ``metric`` per run: accuracy, ua, macro_f1 or an ``extra`` key."""
        if not self.runs:
            raise ValueError("CVResult has no runs")
        out = []
        for run in self.runs:
            if metric in CORE_METRICS:
                out.append(getattr(run.report, metric))
            elif metric in run.report.extra:
                out.append(run.report.extra[metric])
            else:
                raise KeyError(f"unknown metric {metric!r}")
        return np.asarray(out, dtype=np.float64)

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over all runs."""
        return float(self.values(metric).mean())

    def std(self, metric: str) -> float:
        """Sample standard deviation (``ddof=1``) of ``metric`` over all runs.

        The runs are a sample of the fold x seed population, so the spread is divided by
        ``runs - 1``; a single run has no spread and gives 0.0.
        """
        values = self.values(metric)
        return float(values.std(ddof=1)) if values.size > 1 else 0.0

    def format(self, metric: str, digits: int = 3) -> str:
        """``"mean ± std"``, e.g. ``"0.608 ± 0.012"``."""
        return f"{self.mean(metric):.{digits}f} ± {self.std(metric):.{digits}f}"

    @property
    def folds(self) -> int:
        """Number of distinct folds."""
        return len({run.fold for run in self.runs})

    @property
    def seeds(self) -> int:
        """Number of distinct initialisation seeds."""
        return len({run.seed for run in self.runs})

    def confusion(self) -> np.ndarray:
        """Confusion matrix summed over all runs (each sample counted once per seed)."""
        return np.sum([run.report.confusion for run in self.runs], axis=0).astype(np.int64)

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable summary: mean/std of each metric, folds, seeds, n, confusion.

        Besides accuracy, ua and macro_f1, every ``extra`` metric present in all runs
        (e.g. SemEval's ``f1_pn``) gets a mean/std entry. ``n`` is the number of test
        predictions per seed.
        """
        if not self.runs:
            raise ValueError("CVResult has no runs")
        shared = set.intersection(*(set(run.report.extra) for run in self.runs))
        metrics = [*CORE_METRICS, *sorted(shared)]
        out: dict[str, Any] = {m: {"mean": self.mean(m), "std": self.std(m)} for m in metrics}
        first_seed = self.runs[0].seed
        out.update(
            labels=list(self.labels),
            folds=self.folds,
            seeds=self.seeds,
            n=int(sum(run.report.n for run in self.runs if run.seed == first_seed)),
            confusion=self.confusion().tolist(),
        )
        return out


def _splits(
    y: np.ndarray, folds: int, groups: Sequence[Hashable] | None, split_seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is None:
        return kfold(y.size, folds, seed=split_seed, stratify=y)
    if len(groups) != y.size:
        raise ValueError(f"groups has {len(groups)} entries but y has {y.size}")
    return group_kfold(groups, folds, seed=split_seed, stratify=y)


def _predict(fit_predict: FitPredict, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    pred = np.asarray(fit_predict(train, test, seed))
    if pred.shape != test.shape:
        raise ValueError(
            f"fit_predict returned {pred.size} predictions (shape {pred.shape}) "
            f"for {test.size} test samples"
        )
    return pred


def cross_validate(
    fit_predict: FitPredict,
    y: Sequence[int],
    labels: Sequence[str],
    *,
    folds: int = 10,
    seeds: Sequence[int] = (0, 1, 2),
    groups: Sequence[Hashable] | None = None,
    split_seed: int = 0,
    progress: bool = True,
    journal: str | Path | None = None,
    key: str = "",
) -> CVResult:
    """Run ``fit_predict(train_idx, test_idx, seed)`` for every fold x seed and score it.

    ``fit_predict`` trains a fresh model initialised with ``seed`` on ``train_idx`` and
    returns predicted class indices for ``test_idx``. Folds are stratified ``kfold`` or,
    with ``groups``, stratified group-exclusive ``group_kfold``; both drawn once with
    ``split_seed``. A prediction array of the wrong length raises ``ValueError``.
    ``journal``: a JSON file of finished runs (see the module docstring); ``key`` names
    everything the runs depend on besides fold and seed, and a journal written under
    another key is refused.
    """
    y_arr = np.asarray(y, dtype=np.int64)
    seed_list = [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must not be empty")
    splits = _splits(y_arr, folds, groups, split_seed)
    result = CVResult(labels=tuple(labels))
    finished = _read_journal(journal, key) if journal is not None else {}
    from emorl.progress import task_progress

    with task_progress(progress) as bar:
        task = bar.add_task("cross-validation", total=len(splits) * len(seed_list))
        for fold, (train, test) in enumerate(splits):
            for seed in seed_list:
                bar.update(task, description=f"fold {fold + 1}/{len(splits)} seed {seed}")
                done = finished.get(f"{fold}/{seed}")
                if done is not None and len(done) == test.size:
                    pred = np.asarray(done, dtype=np.int64)
                else:
                    pred = _predict(fit_predict, train, test, seed)
                    if journal is not None:
                        finished[f"{fold}/{seed}"] = [int(p) for p in pred]
                        _write_journal(journal, key, finished)
                report = classification_report(y_arr[test], pred, result.labels)
                result.runs.append(CVRun(fold=fold, seed=seed, report=report))
                bar.advance(task)
    return result


def _read_journal(path: str | Path, key: str) -> dict[str, list[int]]:
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        runs = saved["runs"]
        if not isinstance(runs, dict):
            raise TypeError("runs is not an object")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a cross-validation journal ({err})") from err
    if saved.get("key") != key:
        raise ValueError(
            f"{path} holds runs of a different cross-validation (other data, folds or "
            "settings); remove it or write to another --out folder"
        )
    return runs


def _write_journal(path: str | Path, key: str, runs: dict[str, list[int]]) -> None:
    from emorl.artifacts import write_json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"key": key, "runs": runs})


def save_cv(result: CVResult, summary: dict[str, Any], out: str | Path, title: str) -> Path:
    """Write ``crossval.json`` (the summary) and ``confusion_crossval.png`` into ``out``."""
    from emorl.artifacts import write_json
    from emorl.evaluation.plots import plot_confusion_matrix

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "crossval.json", summary)
    plot_confusion_matrix(
        result.confusion(), result.labels, out / "confusion_crossval.png", title=title
    )
    return out
