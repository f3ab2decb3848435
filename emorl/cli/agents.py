"""``emorl train agent``, ``emorl evaluate agent``, ``emorl study rewards``, ``emorl main``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emorl.cli.common import add_ray_arguments, console
from emorl.cli.env import add_env_kwarg_arguments, parse_env_kwargs


def register(train_kinds, evaluate_kinds, commands) -> None:
    """Add the agent commands to the parser."""
    from emorl.agents import POLICIES, REWARDS
    from emorl.agents.train import add_train_arguments
    from emorl.envs.policies import FIXED_POLICIES

    train = train_kinds.add_parser("agent", help="train a PPO/A2C/DQN agent on EmoDialogue-v1")
    add_train_arguments(train)
    train.set_defaults(handler=_train)

    ev = evaluate_kinds.add_parser(
        "agent", help="success, hang-ups, final mood of an agent or baseline, with 95% CIs"
    )
    who = ev.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--model",
        type=Path,
        help="agent .zip or RLlib checkpoint folder (pickle formats: trusted files only)",
    )
    who.add_argument("--policy", choices=POLICIES, help="a baseline")
    ev.add_argument("--env", default="EmoDialogue-v1")
    ev.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default=None)
    ev.add_argument("--episodes", type=int, default=200)
    ev.add_argument("--seed", type=int, default=10_000, help="seed of the first call")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=_evaluate)

    study = commands.add_parser("study", help="experiments across seeds")
    kinds = study.add_subparsers(dest="study_kind", required=True)
    rewards = kinds.add_parser("rewards", help="one agent per reward variant and seed, a report")
    rewards.add_argument("--seeds", type=int, default=5)
    rewards.add_argument("--timesteps", type=int, default=100_000)
    rewards.add_argument("--rewards", nargs="+", choices=REWARDS, default=list(REWARDS))
    rewards.add_argument("--algo", choices=("ppo", "a2c", "dqn"), default="ppo")
    rewards.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default="text")
    rewards.add_argument("--episodes", type=int, default=200, help="evaluation calls per agent")
    rewards.add_argument(
        "--out", type=Path, default=Path("runs/study-rewards"), help="report + Tune storage"
    )
    rewards.add_argument(
        "--factor",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="an environment keyword crossed with the rewards (repeatable)",
    )
    add_ray_arguments(rewards, "trials")
    rewards.add_argument("--no-progress", action="store_true")
    rewards.set_defaults(handler=_study)

    run = kinds.add_parser(
        "run", help="the reward study a YAML spec declares (arms, factors, seeds, timesteps)"
    )
    run.add_argument(
        "--spec", type=Path, default=None, help="study YAML (default: the shipped study-v1.yml)"
    )
    run.add_argument("--out", type=Path, default=None, help="default: runs/<spec name>")
    run.add_argument("--timesteps", type=int, default=None, help="per agent (overrides the spec)")
    run.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default=None)
    run.add_argument("--seeds-primary", type=int, default=None)
    run.add_argument("--seeds-other", type=int, default=None)
    run.add_argument("--episodes", type=int, default=None, help="evaluation calls per agent")
    run.add_argument(
        "--dry-run", action="store_true", help="print the cells, trials and steps; run nothing"
    )
    run.add_argument(
        "--partial",
        action="store_true",
        help="train nothing: report the trials finished so far (report-partial.md)",
    )
    add_ray_arguments(run, "trials")
    run.add_argument("--no-progress", action="store_true")
    run.set_defaults(handler=_study_run)

    pilot = kinds.add_parser(
        "pilot", help="train every arm of a spec briefly to fix its timestep budget"
    )
    pilot.add_argument("--spec", type=Path, default=None, help="study YAML")
    pilot.add_argument(
        "--out", type=Path, default=None, help="the study's folder (default: runs/<spec name>)"
    )
    pilot.add_argument("--timesteps", type=int, default=200_000, help="steps per pilot run")
    pilot.add_argument("--window", type=int, default=25_000, help="budget granularity in steps")
    pilot.add_argument(
        "--seeds", default="900,901", metavar="S1,S2", help="pilot seeds (not analysed)"
    )
    add_ray_arguments(pilot, "trials")
    pilot.add_argument("--no-progress", action="store_true")
    pilot.set_defaults(handler=_study_pilot)

    premise = kinds.add_parser(
        "premise",
        help="no training: fixed policies' returns under every reward variant and factor level",
    )
    premise.add_argument("--out", type=Path, default=Path("runs/premise"))
    premise.add_argument("--episodes", type=int, default=80, help="calls per policy and level")
    premise.add_argument(
        "--factor",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="success_bonus, escalation_cost, hangup_penalty, lingering or another env "
        "keyword, crossed (repeatable)",
    )
    premise.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default="text")
    add_env_kwarg_arguments(premise)
    premise.add_argument("--seed", type=int, default=10_000, help="call i is seeded seed + i")
    premise.add_argument(
        "--estimator-episodes", type=int, default=1000, help="calls to fit each estimator on"
    )
    premise.add_argument("--gamma", type=float, default=0.99)
    premise.add_argument("--policies", nargs="+", choices=FIXED_POLICIES, default=None)
    premise.add_argument("--no-progress", action="store_true")
    premise.set_defaults(handler=_premise)

    credit = kinds.add_parser(
        "credit", help="no training: each variant's weight on the act's effect and the old mood"
    )
    credit.add_argument("--out", type=Path, default=Path("runs/credit"))
    credit.add_argument(
        "--lingering", default="0,0.5,0.95", metavar="L1,L2", help="lingering levels"
    )
    credit.add_argument("--episodes", type=int, default=400, help="calls per lingering level")
    credit.add_argument("--recognizer", choices=("text", "oracle", "bimodal"), default="text")
    add_env_kwarg_arguments(credit)
    credit.add_argument("--behaviour", default="epsilon-scripted:0.5")
    credit.add_argument("--seed", type=int, default=10_000, help="call i is seeded seed + i")
    credit.add_argument("--estimator-episodes", type=int, default=1000)
    credit.add_argument("--resamples", type=int, default=999, help="bootstrap resamples")
    credit.add_argument("--no-progress", action="store_true")
    credit.set_defaults(handler=_credit)

    main = commands.add_parser("main", help="the main job: train PPO, compare to baselines")
    main.add_argument("--timesteps", type=int, default=None, help="default: from the YAML")
    main.add_argument("--episodes", type=int, default=300)
    main.add_argument("--seed", type=int, default=0)
    main.add_argument("--out", type=Path, default=Path("runs"))
    main.add_argument("--no-progress", action="store_true")
    main.set_defaults(handler=_main)


def parse_factors(specs: list[str]) -> dict[str, list]:
    """``["success_bonus=0,10"]`` -> ``{"success_bonus": [0, 10]}`` (JSON values, else text)."""
    factors: dict[str, list] = {}
    for spec in specs:
        name, sep, levels = spec.partition("=")
        if not sep or not name.strip() or not levels.strip():
            raise ValueError(f"--factor {spec!r}: expected NAME=V1,V2")
        factors[name.strip()] = [_level(v.strip()) for v in levels.split(",")]
    return factors


def _level(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _train(args: argparse.Namespace) -> int:
    from emorl.agents.train import train_from_args

    run_dir = train_from_args(args)
    model = run_dir / ("model" if args.engine == "rllib" else "model.zip")
    console.print(f"agent written to {model}")
    print(run_dir)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from emorl.agents.evaluate import evaluate_policy, load_run_env_kwargs
    from emorl.agents.report import print_comparison

    if args.model is not None:
        env_kwargs = load_run_env_kwargs(args.model)
        name = str(args.model)
    else:
        from emorl.agents.train import resolve_env_kwargs

        env_kwargs = resolve_env_kwargs(args.env, None, None)
        name = args.policy
    if args.recognizer:
        env_kwargs["recognizer"] = args.recognizer
    result = evaluate_policy(
        name, args.env, env_kwargs, model=args.model, episodes=args.episodes, seed=args.seed
    )
    if args.json:
        print(json.dumps(result))
    else:
        print_comparison([result], title=f"{name}: {args.episodes} calls")
    return 0


def _study(args: argparse.Namespace) -> int:
    from emorl.agents.study import reward_study

    report = reward_study(
        seeds=args.seeds,
        timesteps=args.timesteps,
        rewards=args.rewards,
        algo=args.algo,
        recognizer=args.recognizer,
        episodes=args.episodes,
        out=args.out,
        progress=not args.no_progress,
        factors=parse_factors(args.factor),
        workers=args.workers,
        ray_address=args.ray_address,
    )
    console.print(f"report written to {report}")
    return 0


def _study_run(args: argparse.Namespace) -> int:
    from emorl.agents.study import load_study_spec, plan, run_study

    spec = load_study_spec(
        args.spec,
        timesteps=args.timesteps,
        recognizer=args.recognizer,
        seeds_primary=args.seeds_primary,
        seeds_other=args.seeds_other,
        episodes=args.episodes,
    )
    if args.dry_run:
        print(json.dumps({"spec": spec.as_dict(), "plan": plan(spec)}, indent=2))
        return 0
    out = args.out if args.out is not None else Path("runs") / spec.name
    report = run_study(
        spec,
        out,
        workers=args.workers,
        ray_address=args.ray_address,
        progress=not args.no_progress,
        partial=args.partial,
    )
    console.print(f"report written to {report}")
    return 0


def _study_pilot(args: argparse.Namespace) -> int:
    from emorl.agents.pilot import run_pilot
    from emorl.agents.study import load_study_spec

    spec = load_study_spec(args.spec)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds {args.seeds!r}: expected integers S1,S2,...") from None
    out = args.out if args.out is not None else Path("runs") / spec.name
    path = run_pilot(
        spec,
        out,
        timesteps=args.timesteps,
        window=args.window,
        seeds=seeds,
        workers=args.workers,
        ray_address=args.ray_address,
        progress=not args.no_progress,
    )
    budget = json.loads(path.read_text(encoding="utf-8"))["timesteps"]
    console.print(f"pilot written to {path}: budget {budget:,} steps per agent")
    return 0


def _premise(args: argparse.Namespace) -> int:
    from emorl.reward.premise import premise_check

    report = premise_check(
        args.out,
        episodes=args.episodes,
        factors=parse_factors(args.factor),
        recognizer=args.recognizer,
        env_kwargs=parse_env_kwargs(args.env_kwarg, args.env_kwargs),
        seed=args.seed,
        estimator_episodes=args.estimator_episodes,
        gamma=args.gamma,
        policies=args.policies,
        progress=not args.no_progress,
    )
    summary = json.loads((args.out / "premise.json").read_text(encoding="utf-8"))["summary"]
    console.print(
        f"report written to {report}: the dilemma exists in {summary['dilemma_cells']} of "
        f"{summary['cells']} cells"
    )
    return 0


def _credit(args: argparse.Namespace) -> int:
    from emorl.reward.credit import credit_study

    try:
        levels = [float(v) for v in args.lingering.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--lingering {args.lingering!r}: expected numbers L1,L2,...") from None
    report = credit_study(
        args.out,
        lingering=levels,
        episodes=args.episodes,
        recognizer=args.recognizer,
        env_kwargs=parse_env_kwargs(args.env_kwarg, args.env_kwargs),
        behaviour=args.behaviour,
        seed=args.seed,
        estimator_episodes=args.estimator_episodes,
        resamples=args.resamples,
        progress=not args.no_progress,
    )
    console.print(f"report written to {report}")
    return 0


def _main(args: argparse.Namespace) -> int:
    from emorl.agents.main import main_job

    main_job(
        timesteps=args.timesteps,
        episodes=args.episodes,
        seed=args.seed,
        out=args.out,
        progress=not args.no_progress,
    )
    return 0
