"""``emorl demo``: talk to an emotion-aware agent (microphone, or a file with --input-file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from emorl.cli.common import console


def register(commands) -> None:
    """Add ``emorl demo`` to the parser."""
    demo = commands.add_parser(
        "demo",
        help="live dialogue demo: speak, see transcript, emotions, reward and the agent's reply",
        description="Capture 16 kHz mono audio (or stream a file), cut it into utterances with "
        "voice-activity detection, recognise each with IEmoNet, compute the emotion reward "
        "and let an agent reply. Ctrl-C ends and flushes the log. "
        "Safety: an SB3 .zip given to --agent contains pickled Python objects; the demo loads "
        "only its weights (policy.pth) and plain JSON, running none of them, unless "
        "--trust-agent-pickle is given.",
    )
    source = demo.add_argument_group("audio")
    source.add_argument(
        "--input-file", type=Path, default=None, help="stream this audio file instead of a mic"
    )
    source.add_argument("--fast", action="store_true", help="stream the file as fast as possible")
    source.add_argument("--device", default=None, help="input device index or name")
    source.add_argument(
        "--min-silence-ms", type=int, default=500, help="silence that ends an utterance"
    )
    source.add_argument("--vad-threshold", type=float, default=0.5, help="speech probability")
    source.add_argument(
        "--no-speculation",
        dest="speculate",
        action="store_false",
        help="recognise an utterance only after its end is decided",
    )
    agent = demo.add_argument_group("agent")
    agent.add_argument(
        "--agent",
        type=Path,
        default=None,
        help="SB3 MlpPolicy .zip (default: scripted agent). Only its weights and plain JSON "
        "are read; the pickled objects in it are not loaded (see --trust-agent-pickle)",
    )
    agent.add_argument("--algorithm", choices=("auto", "ppo", "a2c", "dqn"), default="auto")
    agent.add_argument(
        "--trust-agent-pickle",
        action="store_true",
        help="load --agent with Stable-Baselines3's own loader (PPO.load ...), which unpickles "
        "the file's objects: a crafted .zip then runs any code it holds. Only for files you "
        "trust, e.g. policies with a custom network the weights-only loader refuses",
    )
    agent.add_argument("--speak", action="store_true", help="speak the replies with espeak-ng")
    agent.add_argument("--problem", default=None, help="scenario problem type (default: first)")
    agent.add_argument("--not-grantable", action="store_true", help="the request cannot be granted")
    demo.add_argument(
        "--reward",
        choices=("eq2", "eq1", "delta", "level", "level_exempt", "none"),
        default="eq2",
        help="reward variant (eq1/eq2: the shipped text-recognizer estimators)",
    )
    demo.add_argument("--model", type=Path, default=None, help="IEmoNet folder (default: shipped)")
    demo.add_argument(
        "--ser",
        default=None,
        help="SER folder or shipped name (ser-ravdess-4class: IS09, the paper's; "
        "ser-whisper-tiny-4class: Whisper states): the IEmoNet built on it",
    )
    demo.add_argument(
        "--beam-size", type=int, default=1, help="Whisper beam width (1: greedy, fastest)"
    )
    demo.add_argument(
        "--no-speaker-adaptation",
        dest="adapt_speaker",
        action="store_false",
        help="normalise speech features with the training set's statistics, not the caller's",
    )
    demo.add_argument("--log", type=Path, default=None, help="JSONL file, one record per turn")
    view = demo.add_mutually_exclusive_group()
    view.add_argument("--live", dest="live", action="store_true", default=None)
    view.add_argument("--plain", dest="live", action="store_false", help="one line per turn")
    demo.set_defaults(handler=_demo)


def _device(value: str | None) -> str | int | None:
    return int(value) if value is not None and value.isdigit() else value


def _demo(args: argparse.Namespace) -> int:
    from emorl.demo.app import DemoOptions, prepare_threads, run
    from emorl.demo.audio_source import NoInputDeviceError

    prepare_threads()
    options = DemoOptions(
        input_file=args.input_file,
        device=_device(args.device),
        fast=args.fast,
        agent=args.agent,
        agent_algorithm=args.algorithm,
        trust_agent_pickle=args.trust_agent_pickle,
        speak=args.speak,
        log=args.log,
        problem=args.problem,
        grantable=not args.not_grantable,
        reward=args.reward,
        model=args.model,
        ser=args.ser,
        beam_size=args.beam_size,
        min_silence_ms=args.min_silence_ms,
        vad_threshold=args.vad_threshold,
        adapt_speaker=args.adapt_speaker,
        speculate=args.speculate,
        live=args.live,
    )
    try:
        summary = run(options, console)
    except NoInputDeviceError as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    return 130 if summary.interrupted else 0
