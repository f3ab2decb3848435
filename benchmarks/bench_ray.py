"""Timings of the Ray paths (docs/scale-out.md quotes them). One JSON line per figure.

    python benchmarks/bench_ray.py asr   --samples ../shared/data/asr_samples [--repeat 4]
    python benchmarks/bench_ray.py ter   --meld ../shared/data/meld/dev_sent_emo.csv --lines 400
    python benchmarks/bench_ray.py study --timesteps 4096 --seeds 2
    python benchmarks/bench_ray.py rllib --timesteps 8192 --recognizer text
    python benchmarks/bench_ray.py sb3   --timesteps 8192 --recognizer text

Each prints the machine's 1-minute load before and after (``os.getloadavg``): figures
taken with a load above ~0.5 were measured while other work shared the two cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def emit(**row) -> None:
    print(json.dumps({**row, "load_after": round(os.getloadavg()[0], 2)}), flush=True)


def bench_asr(args) -> None:
    from emorl.asr import batch
    from emorl.asr.samples import sample_items
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber
    from emorl.scale import asr, ray_session

    clips = [(i.id, i.audio_path) for i in sample_items(args.samples)]
    items = [(f"{key}_{n}", path) for n in range(args.repeat) for key, path in clips]
    transcriber = WhisperTranscriber(WhisperConfig(cpu_threads=1, beam_size=1))
    load = os.getloadavg()[0]
    begun = time.perf_counter()
    batch.transcribe_files(items, transcriber, use_cache=False, progress=False)
    seconds = time.perf_counter() - begun
    emit(
        what="asr local",
        n=len(items),
        seconds=round(seconds, 2),
        per_second=round(len(items) / seconds, 2),
        load_before=load,
    )
    with ray_session(num_cpus=2):
        for workers in (1, 2):
            load = os.getloadavg()[0]
            begun = time.perf_counter()
            asr.transcribe_files(
                items, transcriber, use_cache=False, progress=False, workers=workers, batch_size=2
            )
            seconds = time.perf_counter() - begun
            emit(
                what=f"asr ray {workers} actors",
                n=len(items),
                seconds=round(seconds, 2),
                per_second=round(len(items) / seconds, 2),
                load_before=load,
            )


def bench_ter(args) -> None:
    import torch

    from emorl.recognizers.text.model import TextEmotionRecognizer
    from emorl.scale import ray_session
    from emorl.scale.recognizers import ter_probabilities

    torch.set_num_threads(1)
    with open(args.meld, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[: args.lines]
    texts = [r["Utterance"] for r in rows]
    model_dir = Path(__file__).resolve().parents[1] / "emorl" / "models" / "ter-dialogue-4class"
    load = os.getloadavg()[0]
    begun = time.perf_counter()
    TextEmotionRecognizer.from_pretrained(model_dir).probabilities(texts)
    seconds = time.perf_counter() - begun
    emit(
        what="ter local (incl. model load)",
        n=len(texts),
        seconds=round(seconds, 2),
        per_second=round(len(texts) / seconds, 1),
        load_before=load,
    )
    with ray_session(num_cpus=2):
        for workers in (1, 2):
            load = os.getloadavg()[0]
            begun = time.perf_counter()
            ter_probabilities(model_dir, texts, workers=workers, batch_size=32)
            seconds = time.perf_counter() - begun
            emit(
                what=f"ter ray {workers} actors (incl. model load)",
                n=len(texts),
                seconds=round(seconds, 2),
                per_second=round(len(texts) / seconds, 1),
                load_before=load,
            )


def bench_study(args) -> None:
    from emorl.agents.tune import run_trial, run_trials, trial_configs

    fixed = {
        "algo": "ppo",
        "timesteps": args.timesteps,
        "recognizer": args.recognizer,
        "episodes": args.episodes,
        "env_kwargs": {"estimator": None},
    }
    configs = trial_configs(("eq2", "level"), args.seeds)
    with tempfile.TemporaryDirectory() as scratch:
        load = os.getloadavg()[0]
        begun = time.perf_counter()
        run_trial({**fixed, **configs[0]}, scratch)
        plain = time.perf_counter() - begun
        emit(what="one trial, plain call", seconds=round(plain, 2), load_before=load)
        load = os.getloadavg()[0]
        begun = time.perf_counter()
        run_trials(configs[:1], fixed, out=Path(scratch) / "one", progress=False)
        seconds = time.perf_counter() - begun
        emit(
            what="one trial on Ray Tune (incl. ray.init)",
            seconds=round(seconds, 2),
            overhead_seconds=round(seconds - plain, 2),
            load_before=load,
        )
        for workers in (1, 2):
            load = os.getloadavg()[0]
            begun = time.perf_counter()
            run_trials(
                configs, fixed, out=Path(scratch) / f"w{workers}", workers=workers, progress=False
            )
            seconds = time.perf_counter() - begun
            emit(
                what=f"study {len(configs)} trials, {workers} at once",
                seconds=round(seconds, 2),
                load_before=load,
            )


def bench_rllib(args) -> None:
    from emorl.agents.rllib import train_rllib
    from emorl.scale import ray_session

    kwargs = {"recognizer": args.recognizer}
    with tempfile.TemporaryDirectory() as scratch, ray_session(num_cpus=2):
        for runners in args.runners:
            load = os.getloadavg()[0]
            run = train_rllib(
                timesteps=args.timesteps,
                env_runners=runners,
                seed=args.seed,
                out=scratch,
                env_kwargs=kwargs,
                progress=False,
                tensorboard=False,
            )
            meta = json.loads((run / "run.json").read_text())
            emit(
                what=f"rllib ppo {args.recognizer}, {runners} env runners",
                timesteps=meta["timesteps"],
                train_seconds=meta["train_seconds"],
                steps_per_second=meta["steps_per_second"],
                load_before=load,
                **_score(run / "model", meta, args),
            )
            time.sleep(1)


def bench_sb3(args) -> None:
    from emorl.agents.train import train

    with tempfile.TemporaryDirectory() as scratch:
        load = os.getloadavg()[0]
        run = train(
            "ppo",
            timesteps=args.timesteps,
            seed=args.seed,
            out=scratch,
            env_kwargs={"recognizer": args.recognizer},
            progress=False,
            tensorboard=False,
            overrides={"eval_freq": 0, "checkpoint_freq": 0},
        )
        meta = json.loads((run / "run.json").read_text())
        emit(
            what=f"sb3 ppo {args.recognizer}",
            timesteps=meta["timesteps"],
            train_seconds=meta["train_seconds"],
            steps_per_second=meta["steps_per_second"],
            load_before=load,
            **_score(run / "model.zip", meta, args),
        )


def _score(model, meta, args) -> dict:
    from emorl.agents.evaluate import evaluate_policy

    if not args.episodes:
        return {}
    result = evaluate_policy(
        "agent", env_kwargs=meta["env_kwargs"], model=model, episodes=args.episodes
    )
    return {
        k: round(result[k]["value"], 3)
        for k in ("success_rate", "hangup_rate", "final_mood", "true_reward")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("asr", "ter", "study", "rllib", "sb3"))
    parser.add_argument("--samples", type=Path, default=Path("../shared/data/asr_samples"))
    parser.add_argument("--meld", type=Path, default=Path("../shared/data/meld/dev_sent_emo.csv"))
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=1, help="asr: each clip this often")
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--recognizer", default="text")
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    {
        "asr": bench_asr,
        "ter": bench_ter,
        "study": bench_study,
        "rllib": bench_rllib,
        "sb3": bench_sb3,
    }[args.what](args)


if __name__ == "__main__":
    main()
