"""``emorl train ter``, ``emorl evaluate ter`` and ``emorl predict``."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from emorl.cli.common import (
    add_corpus_options,
    add_cv_options,
    add_output_options,
    add_ray_arguments,
    add_training_options,
    console,
    corpus_sources,
    print_cv,
    print_report,
    print_skipped,
    training_kwargs,
    wants_ray,
)
from emorl.console import make_console
from emorl.recognizers.text.input import TextInputError, UnreliableTextWarning, clean_text

READERS = "semeval, meld, dailydialog, iemocap, manifest"
EXAMPLE_TEXTS = (
    "Thank you so much, that solved my problem!",
    "I've been waiting on hold for an hour and nobody can tell me anything.",
    "I just heard that my grandmother passed away.",
    "My account number is 4471 and I'd like to check the balance.",
    "This is the third time I'm calling and you still haven't fixed it. Unacceptable!",
)


def register(train_kinds, evaluate_kinds, commands) -> None:
    """Add the text commands to the parser."""
    from emorl.recognizers.text.training import TERTrainingConfig

    ter = train_kinds.add_parser("ter", help="fine-tune a text emotion recognizer")
    add_corpus_options(ter, READERS)
    ter.add_argument("--out", type=Path, required=True, help="model folder to write")
    ter.add_argument("--val-corpus", action="append", help="validation corpus; repeatable")
    ter.add_argument("--val-data", action="append", help="its path; one per --val-corpus")
    ter.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="hold out matching utterances for validation, e.g. source=twitter-2016test-A "
        "(VALUE may hold shell wildcards)",
    )
    ter.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="leave matching utterances out of training (after --holdout), e.g. "
        "'source=twitter-2016*'; repeatable",
    )
    ter.add_argument(
        "--prior-correction",
        default=None,
        metavar="TAU|auto",
        help="after training, add -TAU*log(training class share) to the logits (1: decide as "
        "if classes were balanced); auto: TAU in 0..1 with the best validation UA",
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
    _add_recipe_options(ter)
    ter.set_defaults(handler=train_ter)

    evaluate = evaluate_kinds.add_parser(
        "ter", help="evaluate a text emotion recognizer (or a recipe with --cv)"
    )
    evaluate.add_argument(
        "--model", type=Path, default=None, help="model folder (default: shipped)"
    )
    add_corpus_options(evaluate, READERS)
    add_output_options(evaluate)
    add_cv_options(evaluate, ("random", "dialogue", "speaker"))
    _add_recipe_options(evaluate, progress=False)
    add_ray_arguments(evaluate, "TER actors", flag=True)
    evaluate.set_defaults(handler=evaluate_ter)

    predict = commands.add_parser(
        "predict",
        help="emotions of texts with a text recognizer",
        description=(
            "Emotions of texts. With '-', one text per line is read from stdin (UTF-8) and "
            "the output has one row per input line, in order. A blank line, a line that is "
            "not valid UTF-8 or one holding only control/zero-width characters is an error "
            "naming the line (nothing is printed), so rows never shift against the input: "
            "remove blank lines first (e.g. grep -v '^[[:space:]]*$'). Texts mostly in a "
            "non-Latin script or outside the encoder's vocabulary are classified with a "
            "warning that the prediction is unreliable."
        ),
    )
    predict.add_argument(
        "texts",
        nargs="*",
        help="texts; '-' reads one per line from stdin (a blank line is an error); "
        "none: a few examples",
    )
    predict.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    predict.add_argument("--json", action="store_true", help="print JSON lines")
    predict.set_defaults(handler=predict_texts)


def _add_recipe_options(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    from emorl.recognizers.text.model import TERConfig
    from emorl.recognizers.text.training import TERTrainingConfig

    t, d = TERTrainingConfig(), TERConfig()
    add_training_options(parser, t)
    if progress:
        parser.add_argument("--no-progress", action="store_true")
    model = parser.add_argument_group("model")
    model.add_argument(
        "--encoder",
        default=d.encoder,
        help="'all-MiniLM-L6-v2' (packaged) or a local Hugging Face model folder",
    )
    model.add_argument("--max-length", type=int, default=d.max_length)
    model.add_argument("--hidden-size", type=int, default=d.hidden_size)
    model.add_argument("--dropout", type=float, default=d.dropout)
    model.add_argument("--l2", type=float, default=d.l2)
    model.add_argument("--pooling", choices=("mean", "cls"), default=d.pooling)
    model.add_argument(
        "--frozen-layers",
        type=int,
        default=d.frozen_layers,
        help="lowest encoder layers kept frozen (embeddings stay frozen unless --train-embeddings)",
    )
    model.add_argument("--train-embeddings", action="store_true")
    model.add_argument("--storage-dtype", choices=("float16", "float32"), default=d.storage_dtype)


def _model_config(args: argparse.Namespace):
    from emorl.recognizers.text.model import TERConfig

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


def _training_config(args: argparse.Namespace, **extra):
    from emorl.recognizers.text.training import TERTrainingConfig

    return TERTrainingConfig(**training_kwargs(args), **extra)


def train_ter(args: argparse.Namespace) -> int:
    from emorl.recognizers.text.workflow import TERTrainJob, run_train_ter

    job = TERTrainJob(
        train=corpus_sources(args.corpus, args.data),
        validation=corpus_sources(args.val_corpus, args.val_data, "val-"),
        out=args.out,
        model=_model_config(args),
        training=_training_config(
            args, seed=args.seed, checkpoint_every=args.checkpoint_every, select=args.select
        ),
        holdout=args.holdout,
        exclude=args.exclude,
        prior_correction=_prior_correction(args.prior_correction),
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
    if outcome.result.resumed_note():
        console.print(outcome.result.resumed_note())
    print_skipped(outcome.skipped)
    if outcome.validation is not None:
        report = outcome.validation.to_dict()
        summary = {k: report[k] for k in ("n", "accuracy", "ua", "macro_f1")}
        extras = ("macro_recall", "f1_pn", "accuracy_2017_prior")
        summary.update({k: report[k] for k in extras if k in report})
        print(json.dumps({"validation": summary}))
    return 0


def _prior_correction(value: str | None) -> float | str | None:
    """``--prior-correction``: ``auto``, a strength in [0, 2], or absent."""
    if value is None or value == "auto":
        return value
    try:
        tau = float(value)
    except ValueError:
        raise SystemExit(f"--prior-correction must be a number or 'auto', got {value!r}") from None
    if not 0.0 <= tau <= 2.0:
        raise SystemExit(f"--prior-correction must be in [0, 2], got {tau}")
    return tau


def evaluate_ter(args: argparse.Namespace) -> int:
    from emorl.recognizers.text.model import TextEmotionRecognizer
    from emorl.recognizers.text.workflow import (
        TERCrossValJob,
        run_crossval_ter,
        run_evaluate_ter,
    )

    sources = corpus_sources(args.corpus, args.data)
    if args.cv and wants_ray(args):
        raise ValueError("--ray evaluates a model; it does not run --cv")
    if args.cv:
        job = TERCrossValJob(
            sources=sources,
            model=_model_config(args),
            training=_training_config(args, checkpoint_every=0),
            folds=args.folds,
            seeds=tuple(range(args.seeds)),
            group="none" if args.cv == "random" else args.cv,
            split_seed=args.split_seed,
            label_mode=args.labels,
            out=args.out,
            progress=not args.no_progress,
        )
        summary = run_crossval_ter(job)
        print_cv(summary, f"TER {args.folds}-fold CV x {args.seeds} initialisations", args.json)
        return 0
    if len(sources) != 1:
        raise ValueError("evaluate one corpus at a time (or use --cv)")
    if wants_ray(args):
        from emorl.scale import ray_session
        from emorl.scale.recognizers import evaluate_ter as on_ray

        with ray_session(args.ray_address):
            result = on_ray(
                args.model, sources[0], confusion_png=args.confusion, workers=args.workers
            )
    else:
        model = TextEmotionRecognizer.from_pretrained(args.model)
        result = run_evaluate_ter(model, sources[0], confusion_png=args.confusion)
    print_report(result, f"TER on {args.corpus[0]} ({result['n']} utterances)", args.json)
    if not args.json:
        print_skipped({args.corpus[0]: result["skipped"]})
    return 0


def predict_texts(args: argparse.Namespace) -> int:
    from emorl.recognizers.text.model import TextEmotionRecognizer
    from emorl.recognizers.text.workflow import predict_texts as predict

    texts = _input_texts(args.texts)
    model = TextEmotionRecognizer.from_pretrained(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnreliableTextWarning)
        rows = predict(model, texts)
    for message in caught:
        console.print(f"[yellow]warning:[/] {escape(str(message.message))}")
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
    make_console().print(table)
    return 0


def _input_texts(arguments: list[str]) -> list[str]:
    """The texts to classify: arguments, stdin lines (``-``) or the examples; validated.

    Every text is checked here, so an error names the argument or the stdin line.
    """
    if not arguments:
        return list(EXAMPLE_TEXTS)
    if arguments == ["-"]:
        buffer = getattr(sys.stdin, "buffer", None)
        data = buffer.read() if buffer is not None else sys.stdin.read()
        lines = data.splitlines() if data else []
        if not lines:
            raise TextInputError("no texts on stdin (predict - reads one text per line)")
        texts = []
        for number, line in enumerate(lines, 1):
            where = f"stdin line {number}"
            try:
                clean_text(line, 1 << 20, where=where)
            except TextInputError as err:
                if not line.strip():
                    raise TextInputError(
                        f"{where} is blank: predict reads one text per line and keeps rows "
                        "in line order (remove blank lines, e.g. grep -v '^[[:space:]]*$')"
                    ) from None
                raise err from None
            texts.append(line.decode("utf-8") if isinstance(line, bytes) else line)
        return texts
    for number, text in enumerate(arguments, 1):
        clean_text(text, 1 << 20, where=f"argument {number} ({text[:20]!a})")
    return list(arguments)
