"""``emorl train ser`` and ``emorl evaluate ser``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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

READERS = "ravdess, emodb, tess, cremad, iemocap, manifest"


def register(train_kinds, evaluate_kinds) -> None:
    """Add the speech commands to the parser."""
    ser = train_kinds.add_parser("ser", help="train a speech emotion recognizer")
    add_corpus_options(ser, READERS)
    ser.add_argument("--out", type=Path, required=True, help="model folder to write")
    ser.add_argument(
        "--val-speakers",
        default="",
        help="comma-separated speakers held out for validation (e.g. ravdess_19,ravdess_20)",
    )
    ser.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        help="hold out this share of the speakers for validation",
    )
    ser.add_argument("--seed", type=int, default=0)
    ser.add_argument(
        "--select",
        choices=("val_ua", "val_accuracy", "val_macro_f1"),
        default=None,
        help="keep the epoch with the best validation score",
    )
    ser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="with --select: stop after this many epochs without improvement",
    )
    ser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="steps between checkpoints besides each epoch's end",
    )
    ser.add_argument("--no-progress", action="store_true")
    ser.add_argument(
        "--backend",
        choices=("network", "whisper"),
        default="network",
        help="network: the paper's IS09 TDNN-BiLSTM-attention; whisper: a head over Whisper "
        "encoder states (one encoder pass with the ASR inside IEmoNet)",
    )
    _add_whisper_model(ser)
    ser.add_argument(
        "--cv-folds",
        type=int,
        default=5,
        help="with --backend whisper: cross-validate the recipe by speaker first (its "
        "figures go into config.json and the model card; 0: skip)",
    )
    _add_whisper_recipe(ser)
    _add_recipe_options(ser)
    ser.set_defaults(handler=train_ser)

    evaluate = evaluate_kinds.add_parser(
        "ser", help="evaluate a speech emotion recognizer (or a recipe with --cv speakers)"
    )
    evaluate.add_argument(
        "--model", type=Path, default=None, help="model folder (default: shipped)"
    )
    add_corpus_options(evaluate, READERS)
    add_output_options(evaluate)
    add_cv_options(evaluate, ("speakers",))
    add_ray_arguments(evaluate, "feature-extraction actors", flag=True)
    evaluate.add_argument(
        "--backend",
        choices=("network", "functionals", "whisper"),
        default="network",
        help="with --cv: the paper network, the functionals + SVM baseline, or Whisper "
        "encoder states + per-speaker z-norm + a head (--head logreg|attention)",
    )
    _add_whisper_model(evaluate)
    evaluate.add_argument(
        "--classifier", choices=("svm", "logreg"), default="svm", help="the baseline's classifier"
    )
    _add_whisper_recipe(evaluate)
    evaluate.add_argument(
        "--degradation",
        default=None,
        help="evaluating a Whisper SER --model: score the clips degraded so "
        "(noise, reverb, speed, telephone)",
    )
    _add_recipe_options(evaluate)
    evaluate.set_defaults(handler=evaluate_ser)


def _add_whisper_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--whisper-model",
        default="tiny.en",
        help="with --backend whisper: tiny.en, base (emorl models install whisper-base) or a "
        "CTranslate2 Whisper folder",
    )


def _add_whisper_recipe(parser: argparse.ArgumentParser) -> None:
    from emorl.recognizers.speech.whisper import add_whisper_options

    add_whisper_options(parser.add_argument_group("Whisper SER (--backend whisper)"))


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    from emorl.recognizers.speech.model import SERConfig
    from emorl.recognizers.speech.training import SERTrainingConfig

    t, d = SERTrainingConfig(), SERConfig()
    add_training_options(parser, t)
    augmentation = parser.add_argument_group("augmentation")
    augmentation.add_argument(
        "--time-masks",
        type=int,
        default=t.time_masks,
        help="spans of frames zeroed per training clip",
    )
    augmentation.add_argument(
        "--time-mask-frames", type=int, default=t.time_mask_frames, help="longest span"
    )
    augmentation.add_argument(
        "--feature-noise",
        type=float,
        default=t.feature_noise,
        help="std of Gaussian noise added to normalised training frames",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="feature cache folder (default: $EMORL_CACHE or ~/.cache/emorl)",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--preset", choices=("64attDim", "128attDim"), default=d.preset)
    model.add_argument(
        "--feature-set",
        default=d.feature_set,
        help="IS09 (frames for the network); eGeMAPSv02 for the baseline too",
    )
    model.add_argument("--max-frames", type=int, default=d.max_frames)
    model.add_argument(
        "--normalization", choices=("speaker", "global", "utterance"), default=d.normalization
    )
    model.add_argument("--dropout", type=float, default=d.dropout)
    model.add_argument(
        "--trim-db",
        type=_trim_db,
        default=d.trim_db,
        help="trim leading/trailing frames this many dB below the loudest ('none': keep all)",
    )


def _trim_db(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def _model_config(args: argparse.Namespace):
    from emorl.recognizers.speech.model import SERConfig

    return SERConfig(
        preset=args.preset,
        feature_set=args.feature_set,
        max_frames=args.max_frames,
        normalization=args.normalization,
        dropout=args.dropout,
        trim_db=args.trim_db,
    )


def _training_config(args: argparse.Namespace, **extra):
    from emorl.recognizers.speech.training import SERTrainingConfig

    return SERTrainingConfig(
        **training_kwargs(args),
        time_masks=args.time_masks,
        time_mask_frames=args.time_mask_frames,
        feature_noise=args.feature_noise,
        **extra,
    )


def _whisper_recipe(args: argparse.Namespace) -> dict:
    from emorl.recognizers.speech.whisper import recipe_from_args

    return {**recipe_from_args(args), "cache_dir": args.cache}


def train_whisper(args: argparse.Namespace) -> int:
    from emorl.recognizers.speech.whisper import train_whisper_ser

    sources = corpus_sources(args.corpus, args.data)
    if len(sources) != 1:
        raise ValueError("--backend whisper trains on one corpus")
    ser = train_whisper_ser(
        sources[0].path,
        args.out,
        args.whisper_model,
        corpus=sources[0].name,
        seed=args.seed,
        cv_folds=args.cv_folds or None,
        progress=not args.no_progress,
        **_whisper_recipe(args),
    )
    console.print(f"Whisper SER trained on {ser.metrics['train_clips']} clips -> {args.out}")
    cv = ser.metrics.get("crossval")
    if cv:
        print(json.dumps({c: row["ua"] for c, row in cv["conditions"].items()}))
    return 0


def train_ser(args: argparse.Namespace) -> int:
    from emorl.recognizers.speech.workflow import SERTrainJob, run_train_ser

    if args.backend == "whisper":
        return train_whisper(args)

    job = SERTrainJob(
        train=corpus_sources(args.corpus, args.data),
        out=args.out,
        model=_model_config(args),
        training=_training_config(
            args,
            seed=args.seed,
            select=args.select,
            patience=args.patience,
            checkpoint_every=args.checkpoint_every,
        ),
        val_speakers=[s for s in args.val_speakers.split(",") if s],
        val_fraction=args.val_fraction,
        label_mode=args.labels,
        cache_dir=args.cache,
        progress=not args.no_progress,
    )
    meta = run_train_ser(job)
    console.print(f"SER trained -> {args.out} ({meta['training']['seconds']:.0f} s)")
    resumed = meta["training"].get("resumed")
    if resumed:
        console.print(
            f"resumed from checkpoint at epoch {resumed['epoch']} step {resumed['step']} "
            f"({resumed['seconds_before']:.1f} s of training before this run)"
        )
    print_skipped(meta["data"]["skipped"])
    if "metrics" in meta:
        validation = meta["metrics"]["validation"]
        print(
            json.dumps(
                {"validation": {k: validation[k] for k in ("n", "accuracy", "ua", "macro_f1")}}
            )
        )
    return 0


def _is_whisper_folder(folder: Path) -> bool:
    from emorl.recognizers.speech.branch import resolve_ser_folder

    config = json.loads((resolve_ser_folder(folder) / "config.json").read_text(encoding="utf-8"))
    return config.get("type", config.get("kind")) == "whisper-ser"


def evaluate_ser(args: argparse.Namespace) -> int:
    from emorl.recognizers.speech.baseline import FunctionalsBaseline
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.speech.workflow import SERCrossValJob, run_crossval_ser, run_evaluate_ser

    sources = corpus_sources(args.corpus, args.data)
    if args.cv and wants_ray(args):
        raise ValueError("--ray evaluates a model; it does not run --cv")
    if args.cv and args.backend == "whisper":
        from emorl.recognizers.speech.whisper import crossval_whisper_ser

        if len(sources) != 1:
            raise ValueError("--backend whisper cross-validates one corpus")
        recipe = _whisper_recipe(args)
        seeds = (0,) if args.head == "logreg" else tuple(range(args.seeds))  # logreg: no init
        summary = crossval_whisper_ser(
            sources[0].path,
            args.whisper_model,
            folds=args.folds,
            seed=args.split_seed,
            seeds=seeds,
            corpus=sources[0].name,
            out=args.out,
            progress=not args.no_progress,
            **recipe,
        )
        title = f"SER (whisper {args.whisper_model}, {args.head}) {args.folds}-fold speaker CV"
        print_cv(summary, title, args.json)
        if not args.json:
            for name, row in summary["conditions"].items():
                console.print(f"{name}: UA {row['ua']['mean']:.3f} ± {row['ua']['std']:.3f}")
        return 0
    if args.cv:
        job = SERCrossValJob(
            sources=sources,
            backend=args.backend,
            model=_model_config(args),
            training=_training_config(args),
            baseline=FunctionalsBaseline(
                classifier=args.classifier,
                normalization="global" if args.normalization == "global" else "speaker",
            ),
            folds=args.folds,
            seeds=tuple(range(args.seeds)),
            split_seed=args.split_seed,
            label_mode=args.labels,
            cache_dir=args.cache,
            out=args.out,
            progress=not args.no_progress,
        )
        summary = run_crossval_ser(job)
        title = f"SER ({args.backend}) {args.folds}-fold speaker CV x {args.seeds} seeds"
        print_cv(summary, title, args.json)
        return 0
    if len(sources) != 1:
        raise ValueError("evaluate one corpus at a time (or use --cv)")
    if args.model is not None and _is_whisper_folder(args.model):
        from emorl.recognizers.speech.whisper import WhisperSER, evaluate_whisper_ser

        ser = WhisperSER.from_pretrained(args.model, cache_dir=args.cache)
        adapt = [int(k) for k in args.adapt_clips.split(",") if k]
        result = evaluate_whisper_ser(
            ser,
            sources[0].name,
            sources[0].path,
            adapt_clips=adapt[0] if adapt else None,
            degradation=args.degradation,
            confusion_png=args.confusion,
            progress=not args.no_progress,
        )
        print_report(result, f"Whisper SER on {sources[0].name} ({result['n']} clips)", args.json)
        if not args.json:
            print_skipped({sources[0].name: result["skipped"]})
        return 0
    if wants_ray(args):
        from emorl.scale import ray_session
        from emorl.scale.recognizers import evaluate_ser as on_ray

        with ray_session(args.ray_address):
            result = on_ray(
                args.model,
                sources[0],
                confusion_png=args.confusion,
                cache_dir=args.cache,
                workers=args.workers,
                progress=not args.no_progress,
            )
    else:
        model = SpeechEmotionRecognizer.from_pretrained(args.model)
        result = run_evaluate_ser(
            model,
            sources[0],
            confusion_png=args.confusion,
            cache_dir=args.cache,
            progress=not args.no_progress,
        )
    print_report(result, f"SER on {args.corpus[0]} ({result['n']} clips)", args.json)
    if not args.json:
        print_skipped({args.corpus[0]: result["skipped"]})
    return 0
