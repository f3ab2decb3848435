"""``emorl train reward-estimator`` and ``emorl env build-bank|warm-cache|demo|fit-dynamics``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emorl.cli.common import console
from emorl.reward.features import FEATURE_SETS


def register(train_kinds, commands) -> None:
    """Add the environment commands to the parser."""
    est = train_kinds.add_parser(
        "reward-estimator", help="collect EmoDialogue rollouts and fit the reward estimator"
    )
    est.add_argument(
        "--kind",
        choices=("eq1", "eq2", "eq2_no_badnews"),
        default="eq2",
        help="eq1: ΔP of every emotion; eq2: the reward term Σf·ΔP; eq2_no_badnews: eq2 "
        "blind to the bad news",
    )
    est.add_argument("--episodes", type=int, default=2000)
    est.add_argument("--out", type=Path, required=True, help="model folder to write")
    est.add_argument("--seed", type=int, default=0, help="call c is seeded seed + c")
    est.add_argument(
        "--behaviour",
        default="epsilon-scripted:0.5",
        help="scripted, random, epsilon-scripted:EPS, a fixed policy "
        "(escalate-instead, ...) or a saved SB3 agent .zip (trusted files only)",
    )
    est.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default="text")
    add_env_kwarg_arguments(est)
    est.add_argument(
        "--feature-sets",
        nargs="+",
        default=list(FEATURE_SETS),
        choices=FEATURE_SETS,
        help="feature sets to compare on the held-out calls (the best is kept)",
    )
    est.add_argument("--num-envs", type=int, default=16, help="vectorised copies")
    est.add_argument("--scenario", type=Path, default=None)
    est.add_argument("--bank", type=Path, default=None)
    est.add_argument("--recognizer-cache", type=Path, default=None, help="text posteriors .npz")
    est.add_argument("--compare-mlp", action="store_true", help="also measure a small MLP")
    est.add_argument("--no-progress", action="store_true")
    est.set_defaults(handler=_train_estimator)

    env = commands.add_parser("env", help="the EmoDialogue environment: bank, demo")
    kinds = env.add_subparsers(dest="env_command", required=True)
    bank = kinds.add_parser("build-bank", help="build the utterance bank from DailyDialog and MELD")
    bank.add_argument("--data", type=Path, required=True, help="folder with dailydialog/ and meld/")
    bank.add_argument("--out", type=Path, default=None, help="bank folder (default: shipped)")
    bank.add_argument("--per-group", type=int, default=100)
    bank.add_argument("--seed", type=int, default=0)
    bank.set_defaults(handler=_build_bank)
    warm = kinds.add_parser(
        "warm-cache",
        help="posteriors of every possible reply: text recognizer (.npz) or speech (shards)",
    )
    warm.add_argument(
        "--recognizer",
        choices=("text", "bimodal"),
        default="text",
        help="bimodal: the shipped IEmoNet on every reply in every voice, provided transcripts",
    )
    warm.add_argument(
        "--out",
        type=Path,
        default=None,
        help="text: .npz file to write or extend (required); bimodal: shard folder "
        "(default: <cache root>/bimodal-posteriors, which training reads)",
    )
    warm.add_argument("--scenario", type=Path, default=None)
    warm.add_argument("--bank", type=Path, default=None)
    warm.add_argument(
        "--workers", type=int, default=None, help="bimodal: processes (default: one per CPU)"
    )
    warm.add_argument("--no-progress", action="store_true")
    warm.set_defaults(handler=_warm_cache)
    report = kinds.add_parser(
        "report",
        help="the recognizer's agreement with the caller's true emotion, distinct replies, "
        "example dialogues",
    )
    report.add_argument("--episodes", type=int, default=400)
    report.add_argument("--seed", type=int, default=0)
    report.add_argument("--recognizer", choices=("text", "oracle"), default="text")
    report.add_argument("--nlu-error", type=float, default=0.0)
    report.add_argument(
        "--examples", type=Path, default=None, help="write example dialogues (markdown) here"
    )
    report.add_argument(
        "--agent", type=Path, default=None, help="a trained SB3 model.zip for one example"
    )
    report.add_argument("--json", action="store_true")
    report.add_argument("--no-progress", action="store_true")
    report.set_defaults(handler=_report)
    demo = kinds.add_parser("demo", help="level vs eq1/eq2 after a bad turn (a table)")
    demo.add_argument("--seeds", type=int, default=200)
    demo.add_argument("--recognizer", choices=("text", "oracle"), default="text")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(handler=_demo)
    fit = kinds.add_parser(
        "fit-dynamics",
        help="fit the caller's emotion dynamics to DailyDialog + MELD and report fidelity",
    )
    fit.add_argument("--data", type=Path, required=True, help="folder with dailydialog/ and meld/")
    fit.add_argument(
        "--out", type=Path, default=None, help="dynamics JSON to write (default: the shipped one)"
    )
    fit.add_argument("--seed", type=int, default=0, help="seed of the fit's common random numbers")
    fit.add_argument("--plot", type=Path, default=None, help="PNG of corpus vs simulator matrices")
    fit.add_argument("--json", action="store_true", help="print the fidelity report as JSON")
    fit.set_defaults(handler=_fit_dynamics)


def add_env_kwarg_arguments(parser: argparse.ArgumentParser) -> None:
    """``--env-kwarg KEY=VALUE`` (repeatable) and ``--env-kwargs JSON``."""
    parser.add_argument(
        "--env-kwarg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an EmoDialogue-v1 keyword argument (VALUE read as JSON, else text); repeatable",
    )
    parser.add_argument(
        "--env-kwargs", default=None, metavar="JSON", help="EmoDialogue-v1 keyword arguments"
    )


def parse_env_kwargs(pairs: list[str], blob: str | None) -> dict:
    """``--env-kwargs`` JSON updated by every ``--env-kwarg KEY=VALUE``."""
    kwargs: dict = {}
    if blob:
        try:
            kwargs = json.loads(blob)
        except json.JSONDecodeError as err:
            raise ValueError(f"--env-kwargs: not valid JSON ({err})") from None
        if not isinstance(kwargs, dict):
            raise ValueError("--env-kwargs: expected a JSON object of keyword -> value")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--env-kwarg {pair!r}: expected KEY=VALUE")
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value
    return kwargs


def _env_kwargs(args: argparse.Namespace) -> dict:
    kwargs: dict = parse_env_kwargs(
        getattr(args, "env_kwarg", []) or [], getattr(args, "env_kwargs", None)
    )
    kwargs["recognizer"] = args.recognizer
    for name in ("scenario", "bank", "recognizer_cache"):
        if getattr(args, name, None) is not None:
            kwargs[name] = getattr(args, name)
    return kwargs


def _train_estimator(args: argparse.Namespace) -> int:
    from emorl.reward.training import train_reward_estimator

    model = train_reward_estimator(
        args.episodes,
        args.out,
        kind=args.kind,
        seed=args.seed,
        behaviour=args.behaviour,
        env_kwargs=_env_kwargs(args),
        feature_sets=tuple(args.feature_sets),
        compare_mlp=args.compare_mlp,
        num_envs=args.num_envs,
        progress=not args.no_progress,
    )
    metrics = model.metadata["metrics"]
    console.print(
        f"{args.kind} reward estimator written to {args.out}: features "
        f"{metrics['chosen']}, held-out R² "
        + ", ".join(f"{k} {v:+.3f}" for k, v in metrics["held_out"]["r2"].items())
        + f"; corr(reward, level) {metrics['held_out']['corr_reward_level']:+.3f}"
    )
    print(json.dumps(metrics))
    return 0


def _build_bank(args: argparse.Namespace) -> int:
    from emorl.simulator.bank import DEFAULT_BANK_DIR, build_bank

    written = build_bank(
        args.data, args.out or DEFAULT_BANK_DIR, per_group=args.per_group, seed=args.seed
    )
    print(json.dumps(written))
    return 0


def _warm_cache(args: argparse.Namespace) -> int:
    if args.recognizer == "bimodal":
        from emorl.envs.speech_cache import warm_bimodal_cache

        counts = warm_bimodal_cache(
            args.out,
            scenario=args.scenario,
            bank=args.bank,
            workers=args.workers,
            progress=not args.no_progress,
        )
        print(json.dumps(counts))
        return 0
    from emorl.envs.cache import warm_text_cache

    if args.out is None:
        raise ValueError("--out: give the .npz file the text posteriors go to")
    counts = warm_text_cache(
        args.out, scenario=args.scenario, bank=args.bank, progress=not args.no_progress
    )
    print(json.dumps(counts))
    return 0


def _report(args: argparse.Namespace) -> int:
    from emorl.envs.report import example_dialogues, print_agreement, recognizer_agreement

    env_kwargs = {"recognizer": args.recognizer, "nlu_error": args.nlu_error}
    result = recognizer_agreement(
        args.episodes, seed=args.seed, env_kwargs=env_kwargs, progress=not args.no_progress
    )
    if args.examples is not None:
        from emorl.artifacts import atomic_write

        text = example_dialogues(env_kwargs, agent=args.agent, seed=args.seed)
        atomic_write(args.examples, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        result["examples"] = str(args.examples)
    if args.json:
        print(json.dumps(result))
    else:
        print_agreement(result)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from emorl.envs.demo import lingering_mood_demo, print_demo

    result = lingering_mood_demo(seeds=args.seeds, recognizer=args.recognizer)
    if args.json:
        print(json.dumps(result))
    else:
        print_demo(result)
    return 0


def _fit_dynamics(args: argparse.Namespace) -> int:
    from emorl.simulator.dynamics import print_fidelity, refit
    from emorl.simulator.mood import FITTED_JSON

    command = f"emorl env fit-dynamics --data {args.data} --seed {args.seed}"
    if args.out is not None:
        command += f" --out {args.out}"
    if args.plot is not None:
        command += f" --plot {args.plot}"
    out = args.out or FITTED_JSON
    content = refit(args.data, out, seed=args.seed, command=command, plot=args.plot)
    if args.json:
        print(json.dumps({"dynamics": content["dynamics"], "fidelity": content["fidelity"]}))
    else:
        print_fidelity(content)
        console.print(f"dynamics written to {out}")
    return 0
