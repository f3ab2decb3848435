"""Pieces every CLI command shares: console, corpus arguments, CV and JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from emorl.console import make_console

console = make_console(stderr=True)


# Hints in emorl.audio's messages that name Python parameters, and what the CLI offers instead.
_CLI_AUDIO_HINTS = (
    (
        'pass policy=AudioPolicy(long_audio="truncate") to keep the start, or use '
        "load_audio_chunks(...) to split it",
        "pass --max-seconds S to accept longer audio, or --long-audio truncate to keep the start",
    ),
    ("max_seconds", "--max-seconds"),
    ("pass raw_sampling_rate=...", "pass --raw-rate HZ"),
    ("raw_sampling_rate", "--raw-rate"),
)


def cli_audio_message(
    problem: str, offered: Sequence[str] = ("--max-seconds", "--raw-rate")
) -> str:
    """``problem`` with the Python parameters it names replaced by the CLI options offered."""
    for python, cli in _CLI_AUDIO_HINTS:
        if any(option in cli for option in offered):
            problem = problem.replace(python, cli)
    return problem


@contextlib.contextmanager
def cli_audio_errors(offered: Sequence[str] = ("--max-seconds", "--raw-rate")) -> Iterator[None]:
    """Re-raise ``AudioError`` with hints naming the command's options, not Python parameters."""
    from emorl.audio import AudioError

    try:
        yield
    except AudioError as err:
        raise AudioError(err.source, cli_audio_message(err.problem, offered)) from None


def corpus_sources(names: Sequence[str] | None, paths: Sequence[str] | None, what: str = ""):
    """Pair each ``--corpus`` with its ``--data``."""
    from emorl.recognizers.text.workflow import CorpusSource

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
    """``--epochs --batch-size --lr --lr-schedule --warmup --class-weights`` with a
    recognizer's defaults."""
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=defaults.epochs)
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--lr", type=float, default=defaults.learning_rate)
    group.add_argument(
        "--lr-schedule",
        choices=("constant", "linear"),
        default=defaults.lr_schedule,
        help="constant, or linear warm-up then linear decay to zero",
    )
    group.add_argument(
        "--warmup", type=float, default=defaults.warmup, help="share of the steps warming up"
    )
    group.add_argument(
        "--class-weights", choices=("balanced", "none"), default=defaults.class_weights
    )
    add_device_option(group)


def training_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The training-config fields :func:`add_training_options` parsed.

    The device is checked here, before any data is read: asking for CUDA where it is not
    available fails at once.
    """
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "lr_schedule": args.lr_schedule,
        "warmup": args.warmup,
        "class_weights": args.class_weights,
        "device": checked_device(args),
    }


def checked_device(args: argparse.Namespace) -> str:
    """``args.device`` after checking that torch can use it."""
    from emorl.recognizers.training import resolve_device

    device = getattr(args, "device", "cpu")
    resolve_device(device)
    return device


def skipped_summary(skipped: Mapping[str, Mapping[str, int]]) -> str | None:
    """One line saying how many utterances were skipped, where and why (None: none were).

    ``skipped`` maps a source (``meld:train_sent_emo.csv``) to ``{reason: count}``.
    """
    parts, total = [], 0
    for source, reasons in skipped.items():
        count = sum(reasons.values())
        if not count:
            continue
        total += count
        why = ", ".join(
            f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])
        )
        parts.append(f"{source}: {why}")
    if not total:
        return None
    return f"skipped {total} utterance(s): " + "; ".join(parts)


def print_skipped(skipped: Mapping[str, Mapping[str, int]]) -> None:
    """Print :func:`skipped_summary` to stderr when anything was skipped."""
    line = skipped_summary(skipped)
    if line:
        console.print(line, soft_wrap=True, markup=False)


def add_device_option(parser: Any) -> None:
    """``--device``: where training runs (CPU unless CUDA is asked for)."""
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device for training: cpu (default), cuda or cuda:N (an error when "
        "CUDA is not available)",
    )


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
    make_console().print(table)


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


def add_ray_arguments(parser: argparse.ArgumentParser, what: str, flag: bool = False) -> None:
    """``--ray-address`` and ``--workers`` (and with ``flag``, ``--ray``: run on Ray at
    all; see :func:`wants_ray`). Ray is the extra ``pip install 'emorl[ray]'``."""
    if flag:
        parser.add_argument(
            "--ray", action="store_true", help="run on Ray (pip install 'emorl[ray]')"
        )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="HOST:PORT",
        help="join this Ray cluster (default: a local Ray on this machine's cores)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help=f"at most this many {what} at once"
    )


def wants_ray(args: argparse.Namespace) -> bool:
    """``--ray`` or ``--ray-address`` was given."""
    return bool(getattr(args, "ray", False) or getattr(args, "ray_address", None))
