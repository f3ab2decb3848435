"""``emorl recognize``, ``emorl train fusion``, ``emorl evaluate fusion``, ``emorl experiment``."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from rich.markup import escape

from emorl.cli.common import (
    add_device_option,
    checked_device,
    cli_audio_errors,
    console,
    print_report,
)

TEXT_READERS = "meld, dailydialog"


def register(train_kinds, evaluate_kinds, commands) -> None:
    """Add the bimodal commands to the parser."""
    recognize = commands.add_parser(
        "recognize",
        help="emotion posteriors of a speech file with IEmoNet (speech + text)",
        description=(
            "Emotion posteriors of one speech file with IEmoNet. The Silero voice-activity "
            "detector checks the file holds speech first: without speech (noise, music, a "
            "tone) no emotion is claimed (label null, abstained true in --json; with --text "
            "the transcript alone is used)."
        ),
    )
    recognize.add_argument("file", type=Path, help="audio file (any rate, mono or stereo)")
    recognize.add_argument("--text", default=None, help="the transcript (default: ASR)")
    recognize.add_argument(
        "--model", type=Path, default=None, help="IEmoNet folder (default: shipped)"
    )
    recognize.add_argument(
        "--ser",
        default=None,
        help="SER folder or shipped name (ser-ravdess-4class: IS09, the paper's; "
        "ser-whisper-tiny-4class: Whisper states, one encoder pass with the ASR): "
        "the IEmoNet built on it",
    )
    recognize.add_argument(
        "--transcripts",
        choices=("auto", "provided", "asr", "noisy", "none"),
        default="auto",
        help="auto: --text if given, else ASR; noisy: --text with simulated errors; "
        "none: speech only",
    )
    recognize.add_argument("--wer", type=float, default=0.06, help="word error rate for noisy")
    recognize.add_argument("--speaker", default=None, help="a speaker adapted in the SER")
    recognize.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="longest audio accepted, in seconds (default 60)",
    )
    recognize.add_argument(
        "--long-audio",
        choices=("error", "truncate"),
        default="error",
        help="audio longer than --max-seconds: stop with an error, or keep its start",
    )
    recognize.add_argument(
        "--raw-rate",
        type=int,
        default=None,
        metavar="HZ",
        help="sampling rate of a headerless .raw/.pcm file (16-bit little-endian mono)",
    )
    recognize.add_argument(
        "--no-speech-check",
        action="store_true",
        help="skip the voice-activity check (by default audio without speech gets no emotion)",
    )
    recognize.add_argument("--json", action="store_true", help="print one JSON object")
    recognize.set_defaults(handler=run_recognize)

    train = train_kinds.add_parser(
        "fusion", help="train a fusion block on frozen TER/SER features (label-paired set)"
    )
    _add_paired_options(train)
    train.add_argument("--out", type=Path, required=True, help="IEmoNet folder to write")
    train.add_argument("--ter", type=Path, default=None, help="TER folder (default: shipped)")
    train.add_argument(
        "--ser",
        default=None,
        help="SER to build on, frozen: a folder or a shipped name (ser-ravdess-4class: IS09 "
        "network, default; ser-whisper-tiny-4class: Whisper SER). Only the block is trained",
    )
    train.add_argument("--kind", choices=("feedforward", "attention"), default="feedforward")
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--dropout", type=float, default=0.3)
    train.add_argument(
        "--reliability",
        default="none",
        help="branch reliability inputs of the block: none, all, or a comma list of "
        "posteriors,entropy,max_prob",
    )
    train.add_argument(
        "--modality-dropout",
        type=float,
        default=0.0,
        help="chance per training example of dropping one branch (with a presence indicator)",
    )
    train.add_argument(
        "--ood-audio",
        action="store_true",
        help="also train on an augmented copy of every clip and on the paired texts spoken "
        "by espeak-ng callers (label: the text's)",
    )
    train.add_argument(
        "--oof-speech",
        action="store_true",
        help="train on out-of-fold speech posteriors (cross-fitted by group; Whisper SER "
        "with a logreg head only)",
    )
    train.add_argument("--tts-prosody", choices=("random", "label", "neutral"), default="random")
    train.add_argument("--audio-cache", type=Path, default=None, help="folder for made audio")
    train.add_argument(
        "--ood-results",
        type=Path,
        action="append",
        default=[],
        help="results.json of an --ood run to store in the config (repeatable)",
    )
    train.add_argument("--val-fraction", type=float, default=0.2, help="speakers held out")
    train.add_argument(
        "--temperature",
        default=None,
        help="store this temperature instead of the one fitted on the held-out speakers; "
        "'ood': the mean per-fold temperature of the first --ood-results",
    )
    train.add_argument("--temperature-note", default="", help="where --temperature came from")
    train.add_argument(
        "--cv-results", type=Path, default=None, help="results.json of a --cv run to store"
    )
    train.add_argument("--transcripts", choices=("provided", "noisy"), default="provided")
    train.add_argument("--wer", type=float, default=0.06)
    train.add_argument("--seed", type=int, default=0)
    _add_fusion_training(train)
    train.add_argument("--no-progress", action="store_true")
    train.set_defaults(handler=train_fusion)

    evaluate = evaluate_kinds.add_parser(
        "fusion", help="evaluate IEmoNet on the label-paired set, or its recipe by --cv"
    )
    _add_paired_options(evaluate)
    evaluate.add_argument(
        "--model", type=Path, default=None, help="IEmoNet folder (default: shipped)"
    )
    evaluate.add_argument("--transcripts", choices=("provided", "noisy"), default="provided")
    evaluate.add_argument("--wer", type=float, default=0.06)
    evaluate.add_argument("--group", type=int, default=None, help="evaluate this group only")
    evaluate.add_argument(
        "--cv",
        action="store_true",
        help="speaker- and dialogue-exclusive folds: retrain the SER and the fusion per fold",
    )
    evaluate.add_argument(
        "--ood",
        action="store_true",
        help="out-of-domain protocol: degraded RAVDESS, espeak-ng and Piper voices speaking the "
        "paired texts; fusion trained on out-of-fold SER outputs (needs --groups 3 or more)",
    )
    evaluate.add_argument(
        "--speech-backend",
        choices=("is09", "whisper"),
        default="is09",
        help="with --ood: the SER retrained per fold (IS09 network or Whisper-encoder SER)",
    )
    evaluate.add_argument(
        "--whisper-ser",
        default="ser-whisper-tiny-4class",
        help="with --ood --speech-backend whisper: the Whisper SER (name or folder) whose "
        "recipe the fold SERs repeat",
    )
    evaluate.add_argument(
        "--test-per-group",
        type=int,
        default=None,
        help="with --ood: paired items per group in the degraded and Piper test sets, drawn "
        "at random (default: every item)",
    )
    evaluate.add_argument("--no-piper", action="store_true", help="with --ood: no Piper set")
    evaluate.add_argument(
        "--tts-prosody",
        choices=("random", "label", "neutral"),
        default="random",
        help="with --ood: espeak-ng prosody (random emotion, the label's, or neutral)",
    )
    evaluate.add_argument(
        "--audio-cache", type=Path, default=None, help="with --ood: folder for the made audio"
    )
    evaluate.add_argument(
        "--seeds", type=int, default=3, help="with --cv/--ood: fusion seeds per fold"
    )
    evaluate.add_argument(
        "--ser-epochs", type=int, default=None, help="with --cv/--ood: IS09 SER epochs"
    )
    evaluate.add_argument("--no-joint", action="store_true", help="with --cv: skip joint tuning")
    evaluate.add_argument("--out", type=Path, default=None, help="with --cv: results folder")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--confusion", type=Path, default=None)
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.set_defaults(handler=evaluate_fusion)

    experiment = commands.add_parser("experiment", help="the paper's experiments")
    kinds = experiment.add_subparsers(dest="experiment", required=True)
    iemocap = kinds.add_parser("iemocap", help="TER, SER and fusion per fold on IEMOCAP")
    iemocap.add_argument("--root", type=Path, required=True, help="IEMOCAP release root")
    iemocap.add_argument("--out", type=Path, required=True, help="results folder")
    iemocap.add_argument("--folds", type=int, default=10)
    iemocap.add_argument("--seeds", type=int, default=3)
    iemocap.add_argument("--transcripts", choices=("provided", "asr", "noisy"), default="provided")
    iemocap.add_argument("--wer", type=float, default=0.06, help="for --transcripts noisy")
    iemocap.add_argument("--split", choices=("random", "session"), default="random")
    iemocap.add_argument("--encoder", default=None, help="TER base encoder (name or folder)")
    iemocap.add_argument("--ter-epochs", type=int, default=7)
    iemocap.add_argument("--ser-epochs", type=int, default=12)
    iemocap.add_argument("--joint", action="store_true", help="also fine-tune jointly")
    iemocap.add_argument("--no-progress", action="store_true")
    iemocap.set_defaults(handler=run_iemocap)


def _add_paired_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("label-paired set (speech clips + same-label texts)")
    group.add_argument("--speech-data", type=Path, required=True, help="RAVDESS folder")
    group.add_argument("--speech-corpus", default="ravdess", help="speech corpus reader")
    group.add_argument(
        "--text-corpus", action="append", required=True, help=f"text reader ({TEXT_READERS})"
    )
    group.add_argument("--text-data", action="append", required=True, help="one per --text-corpus")
    group.add_argument("--groups", type=int, default=2, help="speaker/dialogue groups (folds)")
    group.add_argument("--pair-seed", type=int, default=0)
    group.add_argument("--cache", type=Path, default=None, help="feature cache folder")


def _add_fusion_training(parser: argparse.ArgumentParser) -> None:
    from emorl.recognizers.fusion.training import FusionTrainingConfig

    d = FusionTrainingConfig()
    group = parser.add_argument_group("training")
    group.add_argument("--epochs", type=int, default=d.epochs)
    group.add_argument("--batch-size", type=int, default=d.batch_size)
    group.add_argument("--lr", type=float, default=d.learning_rate)
    add_device_option(group)


def _sources(args: argparse.Namespace):
    from emorl.recognizers.experiments.paired import PairedSources

    if len(args.text_corpus) != len(args.text_data):
        raise ValueError("each --text-corpus needs one --text-data")
    texts = [(n, Path(p)) for n, p in zip(args.text_corpus, args.text_data, strict=True)]
    return PairedSources(
        args.speech_data, texts, args.speech_corpus, groups=args.groups, seed=args.pair_seed
    )


def run_recognize(args: argparse.Namespace) -> int:
    from emorl.audio import AudioError, AudioPolicy, NoSpeechWarning
    from emorl.recognizers.iemonet import IEmoNet

    if args.file.is_dir():
        raise AudioError(str(args.file), "is a directory, not an audio file")
    if not args.file.exists():
        raise FileNotFoundError(f"{args.file}: no such audio file")
    if not args.max_seconds > 0:
        raise ValueError(f"--max-seconds must be positive, got {args.max_seconds}")
    policy = AudioPolicy(max_seconds=args.max_seconds, long_audio=args.long_audio)
    asr = None if args.transcripts in ("provided", "noisy", "none") else "default"
    model = IEmoNet.from_pretrained(args.model, asr=asr, ser=args.ser)
    with cli_audio_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSpeechWarning)  # said below, in the result
        result = model.predict(
            args.file,
            args.text,
            transcripts=args.transcripts,
            wer=args.wer,
            speaker=args.speaker,
            check_speech=not args.no_speech_check,
            policy=policy,
            raw_sampling_rate=args.raw_rate,
        )
    data = {"file": str(args.file), **result.to_dict()}
    if args.json:
        print(json.dumps(data))
        return 0
    from rich.table import Table

    for note in result.notes:
        if note.startswith("no speech"):
            console.print(f"[yellow]note:[/] {escape(note)}")
    verdict = result.label if not result.abstained else "no emotion (no speech detected)"
    table = Table(title=f"{escape(args.file.name)}: {verdict}")
    table.add_column("emotion")
    for column in ("fused", "ser", "ter"):
        table.add_column(column, justify="right")
    for label in model.labels:
        cells = [
            f"{getattr(result, c)[label]:.3f}" if getattr(result, c) else "-"
            for c in ("fused", "ser", "ter")
        ]
        table.add_row(label, *cells)
    console.print(f"transcript ({result.transcript_source}): {result.transcript!r}")
    console.print(table)
    return 0


def _reliability(value: str) -> tuple[str, ...]:
    from emorl.recognizers.fusion.model import RELIABILITY_INPUTS

    if value == "none":
        return ()
    if value == "all":
        return RELIABILITY_INPUTS
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in RELIABILITY_INPUTS]
    if unknown:
        raise ValueError(
            f"--reliability: unknown {', '.join(unknown)} (none, all, or a comma list of "
            f"{', '.join(RELIABILITY_INPUTS)})"
        )
    return names


def _temperature(args: argparse.Namespace) -> dict[str, Any]:
    """``--temperature`` as a number, or read from the first ``--ood-results`` (``ood``)."""
    value, note = args.temperature, args.temperature_note
    if value is None:
        return {"temperature": None, "temperature_note": note}
    if value != "ood":
        try:
            return {"temperature": float(value), "temperature_note": note}
        except ValueError:
            raise ValueError(f"--temperature {value!r}: a number or 'ood'") from None
    if not args.ood_results:
        raise ValueError("--temperature ood needs --ood-results RESULTS.json")
    path = args.ood_results[0]
    try:
        found = float(json.loads(Path(path).read_text(encoding="utf-8"))["temperature_mean"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: no temperature_mean to read ({err})") from None
    note = note or (
        f"mean of the per-fold temperatures of the OOD cross-validation in {path} (fitted on "
        "held-out actors and voices of its training rows)"
    )
    return {"temperature": found, "temperature_note": note}


def train_fusion(args: argparse.Namespace) -> int:
    from emorl.recognizers.experiments.paired import FusionTrainJob, run_train_fusion
    from emorl.recognizers.fusion.model import FusionConfig
    from emorl.recognizers.fusion.training import FusionTrainingConfig

    job = FusionTrainJob(
        sources=_sources(args),
        out=args.out,
        ter=args.ter,
        ser=args.ser,
        fusion=FusionConfig(
            kind=args.kind,
            hidden_size=args.hidden_size,
            dropout=args.dropout,
            reliability=_reliability(args.reliability),
            modality_dropout=args.modality_dropout,
        ),
        training=FusionTrainingConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            device=checked_device(args),
        ),
        val_fraction=args.val_fraction,
        **_temperature(args),
        cv_results=args.cv_results,
        ood_results=args.ood_results,
        transcripts=args.transcripts,
        wer=args.wer,
        ood_audio=args.ood_audio,
        oof_speech=args.oof_speech,
        tts_prosody=args.tts_prosody,
        audio_cache=args.audio_cache,
        cache_dir=args.cache,
        progress=not args.no_progress,
    )
    metadata = run_train_fusion(job)
    console.print(f"saved {args.out}")
    print(json.dumps({"metrics": metadata["metrics"], "calibration": metadata["calibration"]}))
    return 0


def evaluate_fusion(args: argparse.Namespace) -> int:
    from emorl.recognizers.experiments.paired import (
        PairedExperimentJob,
        build_paired,
        run_evaluate_fusion,
        run_paired_experiment,
    )

    if args.ood:
        return _evaluate_ood(args)
    if args.cv:
        from emorl.recognizers.experiments.bimodal import ExperimentConfig
        from emorl.recognizers.fusion.training import JointTrainingConfig
        from emorl.recognizers.speech.training import SERTrainingConfig

        if args.out is None:
            raise ValueError("--cv needs --out for results.md, results.json and the PNGs")
        ser_training = SERTrainingConfig()
        if args.ser_epochs:
            ser_training = SERTrainingConfig(epochs=args.ser_epochs)
        config = ExperimentConfig(
            ser_training=ser_training,
            ter_training=None,
            joint=None if args.no_joint else JointTrainingConfig(),
            seeds=tuple(range(args.seeds)),
            transcripts=("provided", "noisy"),
            wer=args.wer,
        )
        job = PairedExperimentJob(
            _sources(args),
            args.out,
            ter=None,
            config=config,
            cache_dir=args.cache,
            progress=not args.no_progress,
        )
        run_paired_experiment(job)
        print((args.out / "results.md").read_text())
        return 0
    from emorl.recognizers.iemonet import IEmoNet

    model = IEmoNet.from_pretrained(args.model, asr=None)
    result = run_evaluate_fusion(
        model,
        build_paired(_sources(args)),
        group=args.group,
        transcripts=args.transcripts,
        wer=args.wer,
        confusion_png=args.confusion,
        cache_dir=args.cache,
        progress=not args.no_progress,
    )
    print_report(result, "IEmoNet", args.json)
    if not args.json:
        console.print(f"ECE {result['ece']:.3f} (uncalibrated {result['ece_uncalibrated']:.3f})")
    return 0


def _evaluate_ood(args: argparse.Namespace) -> int:
    from emorl.recognizers.experiments.ood import (
        OODConfig,
        OODExperimentConfig,
        OODExperimentJob,
        run_ood_experiment,
    )

    if args.out is None:
        raise ValueError("--ood needs --out for results.md and results.json")
    if args.cv:
        raise ValueError("--ood and --cv are two protocols: choose one")
    config = OODExperimentConfig(
        ood=OODConfig(
            piper=not args.no_piper,
            test_per_group=args.test_per_group,
            tts_prosody=args.tts_prosody,
        ),
        seeds=tuple(range(args.seeds)),
    )
    job = OODExperimentJob(
        _sources(args),
        args.out,
        backend=args.speech_backend,
        whisper_ser=args.whisper_ser,
        config=config,
        ser_epochs=args.ser_epochs,
        audio_cache=args.audio_cache,
        cache_dir=args.cache,
        progress=not args.no_progress,
    )
    run_ood_experiment(job)
    print((args.out / "results.md").read_text())
    return 0


def run_iemocap(args: argparse.Namespace) -> int:
    from emorl.recognizers.experiments.iemocap import IemocapJob, run_iemocap_experiment

    job = IemocapJob(
        root=args.root,
        out=args.out,
        folds=args.folds,
        seeds=tuple(range(args.seeds)),
        transcripts=args.transcripts,
        wer=args.wer,
        split=args.split,
        encoder=args.encoder,
        ter_epochs=args.ter_epochs,
        ser_epochs=args.ser_epochs,
        joint=args.joint,
        progress=not args.no_progress,
    )
    run_iemocap_experiment(job)
    print((args.out / "results.md").read_text())
    return 0
