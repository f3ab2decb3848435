"""Pieces every CLI command shares: console, corpus arguments, CV and JSON output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def corpus_sources(names: Sequence[str] | None, paths: Sequence[str] | None, what: str = ""):
    """Pair each ``--corpus`` with its ``--data``."""
    from emorl.recognizers.ter_workflow import CorpusSource

    names, paths = names or [], paths or []
    if len(names) != len(paths):
        raise ValueError(
            f"each --{what}corpus needs one --{what}data ({len(names)} corpora, {len(paths)} paths)"
        )
    return [CorpusSource(n, Path(p)) for n, p in zip(names, paths, strict=True)]


def add_corpus_options(parser: argparse.ArgumentParser, readers: str) -> None:
    """Repeatable ``--corpus NAME --data PATH`` and the label mode."""
    parser.add_argument(
        "--corpus", action="append", required=True, help=f"corpus reader ({readers}); repeatable"
    )
    parser.add_argument("--data", action="append", required=True, help="its path; one per --corpus")
    parser.add_argument(
        "--labels",
        choices=("four", "full"),
        default="four",
        help="the paper's four classes or the corpus's full label set",
    )


def add_cv_options(parser: argparse.ArgumentParser, groups: Sequence[str]) -> None:
    """Options of evaluation by cross-validation (train and test per fold)."""
    cv = parser.add_argument_group("cross-validation (trains a fresh model per fold)")
    cv.add_argument(
        "--cv",
        choices=tuple(groups),
        default=None,
        help="cross-validate instead of evaluating --model; folds exclusive by this group",
    )
    cv.add_argument("--folds", type=int, default=10)
    cv.add_argument("--seeds", type=int, default=3, help="initialisations per fold")
    cv.add_argument("--split-seed", type=int, default=0, help="seed of the fold shuffle")
    cv.add_argument(
        "--out", type=Path, default=None, help="folder for crossval.json and the confusion PNG"
    )


def add_training_options(parser: argparse.ArgumentParser, defaults: Any) -> None:
    """``--epochs --batch-size --lr --class-weights`` with a recognizer's defaults."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=defaults.epochs)
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--lr", type=float, default=defaults.learning_rate)
    group.add_argument(
        "--class-weights", choices=("balanced", "none"), default=defaults.class_weights
    )


def training_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The training-config fields :func:`add_training_options` parsed."""
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "class_weights": args.class_weights,
    }


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--confusion", type=Path, default=None, help="write a confusion-matrix PNG")
    parser.add_argument("--no-progress", action="store_true")


def print_report(result: Mapping[str, Any], title: str, as_json: bool) -> None:
    """An evaluation result as one JSON object or a small rich table."""
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=title)
    for name in ("accuracy", "ua", "macro_f1", "macro_recall", "f1_pn"):
        if name in result:
            table.add_row(name, f"{result[name]:.3f}")
    Console().print(table)


def print_cv(summary: Mapping[str, Any], title: str, as_json: bool) -> None:
    """A cross-validation summary: mean ± std table, and JSON with means as top-level keys."""
    flat = {
        "n": summary["n"],
        **{m: summary[m]["mean"] for m in ("accuracy", "ua", "macro_f1")},
        **{f"{m}_std": summary[m]["std"] for m in ("accuracy", "ua", "macro_f1")},
        "folds": summary["folds"],
        "seeds": summary["seeds"],
        "protocol": summary["protocol"],
    }
    if as_json:
        print(json.dumps(flat))
        return
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    for metric, text in summary["formatted"].items():
        table.add_row(metric, text)
    console.print(table)
    print(json.dumps(flat))
