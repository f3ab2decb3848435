"""``emorl transcribe`` and ``emorl evaluate asr``."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from emorl.cli.common import add_ray_arguments, cli_audio_errors, console, wants_ray

CORPUS_READERS = "ravdess, emodb, tess, cremad, iemocap, manifest"


def register(evaluate_kinds, commands) -> None:
    """Add the speech recognition commands to the parser."""
    evaluate = evaluate_kinds.add_parser(
        "asr", help="word error rate and real-time factor of the speech recognizer"
    )
    evaluate.add_argument(
        "--manifest",
        type=Path,
        required=True,
        help=".csv or .jsonl with 'audio' (relative to the manifest) and reference 'text'",
    )
    _add_model_options(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--out", type=Path, default=None, help="also write the full report (every clip) as JSON"
    )
    evaluate.add_argument(
        "--cache", action="store_true", help="reuse cached transcripts (rtf is then theirs)"
    )
    evaluate.add_argument(
        "--skip-bad", action="store_true", help="leave out unusable clips instead of stopping"
    )
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.set_defaults(handler=evaluate_asr)

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe audio files, or a whole corpus into a manifest",
        description=(
            "Print transcripts of audio files, or, with --corpus/--data/--out, write a corpus "
            "with automatic transcripts as a .jsonl manifest (for TER on recognised speech: "
            "--corpus manifest --data OUT)."
        ),
    )
    transcribe.add_argument("files", nargs="*", type=Path, help="audio files")
    _add_model_options(transcribe)
    transcribe.add_argument("--json", action="store_true", help="print JSON lines with words")
    corpus = transcribe.add_argument_group("corpus mode")
    corpus.add_argument("--corpus", default=None, help=f"corpus reader ({CORPUS_READERS})")
    corpus.add_argument("--data", type=Path, default=None, help="its path")
    corpus.add_argument("--labels", choices=("four", "full"), default="four")
    corpus.add_argument("--out", type=Path, default=None, help=".jsonl manifest to write")
    corpus.add_argument("--no-cache", action="store_true", help="do not read or fill the cache")
    add_ray_arguments(corpus, "transcription actors (use --threads 1 with --ray)", flag=True)
    corpus.add_argument("--no-progress", action="store_true")
    transcribe.set_defaults(handler=transcribe_command)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    from emorl.asr.whisper import WhisperConfig

    d = WhisperConfig()
    group = parser.add_argument_group("recognizer")
    group.add_argument(
        "--asr-model",
        default=None,
        metavar="DIR|base",
        help="local CTranslate2 Whisper folder, or base (emorl models install whisper-base); "
        "default: packaged Whisper tiny.en",
    )
    group.add_argument("--beam-size", type=int, default=d.beam_size)
    group.add_argument(
        "--no-vad", action="store_true", help="decode everything, without voice-activity filter"
    )
    group.add_argument("--compute-type", default=d.compute_type, help="CTranslate2 quantisation")
    group.add_argument("--threads", type=int, default=d.cpu_threads, help="CPU threads (0: auto)")
    group.add_argument(
        "--raw-rate",
        type=int,
        default=d.raw_sampling_rate,
        help="sampling rate of headerless .raw/.pcm files (16-bit little-endian mono)",
    )


def _transcriber(args: argparse.Namespace):
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber

    return WhisperTranscriber(
        WhisperConfig(
            model=args.asr_model,
            beam_size=args.beam_size,
            vad_filter=not args.no_vad,
            compute_type=args.compute_type,
            cpu_threads=args.threads,
            raw_sampling_rate=args.raw_rate,
        )
    )


def evaluate_asr(args: argparse.Namespace) -> int:
    from emorl.artifacts import write_json
    from emorl.asr.evaluation import evaluate_transcriber
    from emorl.asr.manifest import read_speech_manifest

    items = read_speech_manifest(args.manifest, require_text=True)
    transcriber = _transcriber(args)
    with cli_audio_errors(("--raw-rate",)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_transcriber(
            items,
            transcriber,
            use_cache=args.cache,
            errors="skip" if args.skip_bad else "raise",
            progress=not args.no_progress,
        )
    _show_warnings(caught)
    if args.out:
        write_json(args.out, report)
    summary = {k: v for k, v in report.items() if k != "items"}
    if args.json:
        print(json.dumps(summary))
        return 0
    table = Table(title=f"ASR on {args.manifest} ({report['n']} clips, {report['words']} words)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("WER", f"{report['wer']:.3f}")
    for name in ("substitutions", "deletions", "insertions"):
        table.add_row(name, str(report[name]))
    table.add_row("real-time factor", f"{report['rtf']:.3f}" if report["rtf"] else "-")
    table.add_row("audio", f"{report['audio_seconds']:.1f} s")
    console.print(table)
    console.print(f"model: {escape(report['model'])}")
    for key, reason in report["failed"].items():
        console.print(f"[yellow]skipped[/] {escape(key)}: {escape(reason)}")
    return 0


def transcribe_command(args: argparse.Namespace) -> int:
    corpus_mode = args.corpus is not None or args.data is not None or args.out is not None
    if corpus_mode and args.files:
        raise ValueError("give audio files, or --corpus/--data/--out, not both")
    if corpus_mode:
        return _transcribe_corpus(args)
    if not args.files:
        raise ValueError("no audio files given (or use --corpus NAME --data PATH --out OUT.jsonl)")
    transcriber = _transcriber(args)
    for path in args.files:
        with cli_audio_errors(("--raw-rate",)), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            transcript = transcriber.transcribe(path)
        _show_warnings(caught)
        if args.json:
            print(json.dumps(transcript.to_dict()))
        elif len(args.files) == 1:
            print(transcript.text)
        else:
            print(f"{path}\t{transcript.text}")
    return 0


def _transcribe_corpus(args: argparse.Namespace) -> int:
    from emorl.asr.batch import transcribe_corpus
    from emorl.asr.manifest import write_corpus_manifest
    from emorl.data import load_corpus

    if args.corpus is None or args.data is None or args.out is None:
        raise ValueError("corpus mode needs --corpus, --data and --out")
    corpus = load_corpus(args.corpus, args.data, labels=args.labels)
    transcriber = _transcriber(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if wants_ray(args):
            from emorl.scale import ray_session
            from emorl.scale.asr import transcribe_corpus as on_ray

            with ray_session(args.ray_address):
                transcribed = on_ray(
                    corpus,
                    transcriber,
                    use_cache=not args.no_cache,
                    progress=not args.no_progress,
                    workers=args.workers,
                )
        else:
            transcribed = transcribe_corpus(
                corpus, transcriber, use_cache=not args.no_cache, progress=not args.no_progress
            )
    _show_warnings(caught, limit=5)
    path = write_corpus_manifest(transcribed, args.out)
    console.print(f"{len(transcribed)} transcripts -> {escape(str(path))}")
    for reason, count in transcribed.skipped.items():
        console.print(f"[yellow]skipped[/] {count}: {escape(reason)}")
    return 0


def _show_warnings(caught: list[warnings.WarningMessage], limit: int = 20) -> None:
    for message in caught[:limit]:
        console.print(f"[yellow]warning:[/] {escape(str(message.message))}")
    if len(caught) > limit:
        console.print(f"[yellow]... {len(caught) - limit} more warnings[/]")
