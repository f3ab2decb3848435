"""The ``emorl`` command. Thin: parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from emorl import __version__

console = Console(stderr=True)
EXAMPLE_TEXTS = (
    "Thank you so much, that solved my problem!",
    "I've been waiting on hold for an hour and nobody can tell me anything.",
    "I just heard that my grandmother passed away.",
    "My account number is 4471 and I'd like to check the balance.",
    "This is the third time I'm calling and you still haven't fixed it. Unacceptable!",
)


def _pairs(names: Sequence[str] | None, paths: Sequence[str] | None, what: str):
    from emorl.recognizers.ter_workflow import CorpusSource

    names, paths = names or [], paths or []
    if len(names) != len(paths):
        raise ValueError(
            f"each --{what}corpus needs one --{what}data ({len(names)} corpora, {len(paths)} paths)"
        )
    return [CorpusSource(n, Path(p)) for n, p in zip(names, paths, strict=True)]


def _add_ter_model_options(parser: argparse.ArgumentParser) -> None:
    from emorl.recognizers.ter import TERConfig

    d = TERConfig()
    group = parser.add_argument_group("model")
    group.add_argument(
        "--encoder",
        default=d.encoder,
        help="'all-MiniLM-L6-v2' (packaged) or a local Hugging Face model folder",
    )
    group.add_argument("--max-length", type=int, default=d.max_length)
    group.add_argument("--hidden-size", type=int, default=d.hidden_size)
    group.add_argument("--dropout", type=float, default=d.dropout)
    group.add_argument("--l2", type=float, default=d.l2)
    group.add_argument("--pooling", choices=("mean", "cls"), default=d.pooling)
    group.add_argument(
        "--frozen-layers",
        type=int,
        default=d.frozen_layers,
        help="lowest encoder layers kept frozen (embeddings are always frozen "
        "unless --train-embeddings)",
    )
    group.add_argument("--train-embeddings", action="store_true")
    group.add_argument("--storage-dtype", choices=("float16", "float32"), default=d.storage_dtype)


def _add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        action="append",
        required=True,
        help="corpus reader (semeval, meld, dailydialog, iemocap, manifest); repeatable",
    )
    parser.add_argument("--data", action="append", required=True, help="its path; one per --corpus")
    parser.add_argument(
        "--labels",
        choices=("four", "full"),
        default="four",
        help="the paper's four classes or the corpus's full label set",
    )


def _add_ter_training_options(parser: argparse.ArgumentParser) -> None:
    from emorl.recognizers.ter_training import TERTrainingConfig

    t = TERTrainingConfig()
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=t.epochs)
    group.add_argument("--batch-size", type=int, default=t.batch_size)
    group.add_argument("--lr", type=float, default=t.learning_rate)
    group.add_argument("--class-weights", choices=("balanced", "none"), default=t.class_weights)
    group.add_argument("--no-progress", action="store_true")
    _add_ter_model_options(parser)


def _build_parser() -> argparse.ArgumentParser:
    from emorl.recognizers.ter_training import TERTrainingConfig

    parser = argparse.ArgumentParser(prog="emorl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"emorl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a recognizer")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    ter = train_kinds.add_parser("ter", help="fine-tune a text emotion recognizer")
    _add_corpus_options(ter)
    ter.add_argument("--out", type=Path, required=True, help="model folder to write")
    ter.add_argument("--val-corpus", action="append", help="validation corpus; repeatable")
    ter.add_argument("--val-data", action="append", help="its path; one per --val-corpus")
    ter.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="hold out matching utterances for validation, e.g. "
        "source=twitter-2016test-A; repeatable",
    )
    ter.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="hold out this share of each training corpus for validation",
    )
    ter.add_argument(
        "--val-group",
        choices=("dialogue", "speaker", "none"),
        default="dialogue",
        help="keep these groups exclusive between train and validation",
    )
    ter.add_argument(
        "--max-per-class",
        type=int,
        default=None,
        help="cap each class of each training corpus to this many random examples",
    )
    ter.add_argument("--seed", type=int, default=0)
    ter.add_argument(
        "--select",
        choices=("val_ua", "val_accuracy", "val_macro_f1"),
        default=None,
        help="keep the epoch with the best validation score (default: the last epoch)",
    )
    ter.add_argument(
        "--checkpoint-every",
        type=int,
        default=TERTrainingConfig().checkpoint_every,
        help="steps between checkpoints (a rerun with the same --out resumes)",
    )
    _add_ter_training_options(ter)

    crossval = commands.add_parser("crossval", help="k-fold cross-validation of a recognizer")
    cv_kinds = crossval.add_subparsers(dest="kind", required=True)
    cvter = cv_kinds.add_parser("ter", help="cross-validate text emotion recognition")
    _add_corpus_options(cvter)
    cvter.add_argument("--folds", type=int, default=10)
    cvter.add_argument("--seeds", type=int, default=3, help="initialisations per fold")
    cvter.add_argument(
        "--group",
        choices=("none", "dialogue", "speaker"),
        default="none",
        help="keep these groups exclusive between train and test folds",
    )
    cvter.add_argument("--split-seed", type=int, default=0, help="seed of the fold shuffle")
    cvter.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for crossval.json and the confusion-matrix PNG",
    )
    _add_ter_training_options(cvter)

    evaluate = commands.add_parser("evaluate", help="evaluate a recognizer on a corpus")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True)
    eter = eval_kinds.add_parser("ter", help="evaluate a text emotion recognizer")
    eter.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    eter.add_argument("--corpus", required=True)
    eter.add_argument("--data", type=Path, required=True)
    eter.add_argument("--json", action="store_true", help="print one JSON object")
    eter.add_argument("--confusion", type=Path, default=None, help="write a confusion-matrix PNG")

    predict = commands.add_parser("predict", help="emotions of texts with a text recognizer")
    predict.add_argument(
        "texts", nargs="*", help="texts; '-' reads one per line from stdin; none: a few examples"
    )
    predict.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    predict.add_argument("--json", action="store_true", help="print JSON lines")
    return parser


def _ter_config(args: argparse.Namespace):
    from emorl.recognizers.ter import TERConfig

    return TERConfig(
        encoder=args.encoder,
        max_length=args.max_length,
        hidden_size=args.hidden_size,
        dropout=args.dropout,
        l2=args.l2,
        pooling=args.pooling,
        freeze_embeddings=not args.train_embeddings,
        frozen_layers=args.frozen_layers,
        storage_dtype=args.storage_dtype,
    )


def _train_ter(args: argparse.Namespace) -> int:
    from emorl.recognizers.ter_training import TERTrainingConfig
    from emorl.recognizers.ter_workflow import TERTrainJob, run_train_ter

    job = TERTrainJob(
        train=_pairs(args.corpus, args.data, ""),
        validation=_pairs(args.val_corpus, args.val_data, "val-"),
        out=args.out,
        model=_ter_config(args),
        training=TERTrainingConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            class_weights=args.class_weights,
            checkpoint_every=args.checkpoint_every,
            select=args.select,
        ),
        holdout=args.holdout,
        val_fraction=args.val_fraction,
        val_group=args.val_group,
        max_per_class=args.max_per_class,
        label_mode=args.labels,
        progress=not args.no_progress,
    )
    outcome = run_train_ter(job)
    table = Table(title=f"TER trained -> {outcome.model_dir}")
    table.add_column("set")
    for label in outcome.train_counts:
        table.add_column(label, justify="right")
    table.add_row("train", *map(str, outcome.train_counts.values()))
    if outcome.val_counts:
        table.add_row("validation", *map(str, outcome.val_counts.values()))
    console.print(table)
    console.print(
        f"{outcome.result.examples_per_second:.1f} examples/s, "
        f"{outcome.result.seconds / 60:.1f} min"
    )
    if outcome.validation is not None:
        report = outcome.validation.to_dict()
        summary = {k: report[k] for k in ("n", "accuracy", "ua", "macro_f1")}
        summary.update({k: report[k] for k in ("macro_recall", "f1_pn") if k in report})
        print(json.dumps({"validation": summary}))
    return 0


def _crossval_ter(args: argparse.Namespace) -> int:
    from emorl.recognizers.ter_training import TERTrainingConfig
    from emorl.recognizers.ter_workflow import TERCrossValJob, run_crossval_ter

    job = TERCrossValJob(
        sources=_pairs(args.corpus, args.data, ""),
        model=_ter_config(args),
        training=TERTrainingConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            class_weights=args.class_weights,
            checkpoint_every=0,
        ),
        folds=args.folds,
        seeds=tuple(range(args.seeds)),
        group=args.group,
        split_seed=args.split_seed,
        label_mode=args.labels,
        out=args.out,
        progress=not args.no_progress,
    )
    summary = run_crossval_ter(job)
    table = Table(title=f"TER {args.folds}-fold CV x {args.seeds} initialisations")
    table.add_column("metric")
    table.add_column("mean ± std", justify="right")
    for metric, text in summary["formatted"].items():
        table.add_row(metric, text)
    console.print(table)
    print(json.dumps({k: summary[k] for k in ("accuracy", "ua", "macro_f1", "n", "protocol")}))
    return 0


def _evaluate_ter(args: argparse.Namespace) -> int:
    from emorl.recognizers.ter import TextEmotionRecognizer
    from emorl.recognizers.ter_workflow import CorpusSource, run_evaluate_ter

    model = TextEmotionRecognizer.from_pretrained(args.model)
    result = run_evaluate_ter(
        model, CorpusSource(args.corpus, args.data), confusion_png=args.confusion
    )
    if args.json:
        print(json.dumps(result))
        return 0
    table = Table(title=f"TER on {args.corpus} ({result['n']} utterances)")
    for name in ("accuracy", "ua", "macro_f1", "macro_recall", "f1_pn"):
        if name in result:
            table.add_row(name, f"{result[name]:.3f}")
    Console().print(table)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from emorl.recognizers.ter import TextEmotionRecognizer
    from emorl.recognizers.ter_workflow import predict_texts

    texts = list(args.texts) or list(EXAMPLE_TEXTS)
    if texts == ["-"]:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    model = TextEmotionRecognizer.from_pretrained(args.model)
    rows = predict_texts(model, texts)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    table = Table(title="Text emotion recognition")
    table.add_column("text", overflow="fold", ratio=3)
    table.add_column("emotion", style="bold")
    for label in model.labels:
        table.add_column(label, justify="right")
    for row in rows:
        probs = row["probabilities"]
        table.add_row(row["text"], row["label"], *(f"{probs[lab]:.2f}" for lab in model.labels))
    Console().print(table)
    return 0


HANDLERS = {
    ("train", "ter"): _train_ter,
    ("crossval", "ter"): _crossval_ter,
    ("evaluate", "ter"): _evaluate_ter,
    ("predict", None): _predict,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emorl`` console script."""
    args = _build_parser().parse_args(argv)
    handler = HANDLERS[(args.command, getattr(args, "kind", None))]
    try:
        return handler(args)
    except (FileNotFoundError, ValueError) as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}")
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
