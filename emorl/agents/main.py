"""The main job (``make run``): train PPO on EmoDialogue-v1 with the shipped text
recognizer and the default reward, compare it with the random and scripted baselines,
and write the report and figures under ``runs/main/``."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any


def main_job(
    *,
    timesteps: int | None = None,
    episodes: int = 300,
    seed: int = 0,
    out: str | Path = "runs",
    progress: bool = True,
) -> dict[str, Any]:
    """Run the main job; returns the comparison (also written as ``comparison.json``)."""
    import torch

    from emorl.agents.evaluate import evaluate_policy
    from emorl.agents.report import bar_chart, learning_curves, markdown_table, print_comparison
    from emorl.agents.train import resolve_env_kwargs, train
    from emorl.artifacts import atomic_write, write_json

    begun = time.perf_counter()
    torch.set_num_threads(1)
    out = Path(out) / "main"
    resolve_env_kwargs("EmoDialogue-v1", None, None, progress)  # the posteriors cache, once
    cache_seconds = time.perf_counter() - begun
    run_dir = train("ppo", timesteps=timesteps, seed=seed, out=out / "runs", progress=progress)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    eval_kwargs = dict(meta["env_kwargs"])
    results = [
        evaluate_policy(
            "ppo", env_kwargs=eval_kwargs, model=run_dir / "model.zip", episodes=episodes
        ),
        evaluate_policy("random", env_kwargs=eval_kwargs, episodes=episodes),
        evaluate_policy("scripted", env_kwargs=eval_kwargs, episodes=episodes),
    ]
    ppo, rnd = results[0], results[1]
    verdict = {
        "success_beats_random": ppo["success_rate"]["low"] > rnd["success_rate"]["high"],
        "mood_beats_random": ppo["final_mood"]["low"] > rnd["final_mood"]["high"],
    }
    wall = time.perf_counter() - begun
    timing = {
        "wall_seconds": round(wall, 1),
        "cache_seconds": round(cache_seconds, 1),
        "train_seconds": meta["train_seconds"],
        "train_steps_per_second": meta["steps_per_second"],
        "timesteps": meta["timesteps"],
        "peak_rss_mb": round(_peak_mb(), 1),
    }
    title = (
        f"PPO ({meta['timesteps']:,} steps, reward {meta['reward']}) vs baselines, {episodes} calls"
    )
    print_comparison(results, title)
    write_json(
        out / "comparison.json",
        {
            "results": results,
            "verdict": verdict,
            "timing": timing,
            "run": str(run_dir),
            "env_kwargs": eval_kwargs,
        },
    )
    bar_chart(results, out / "comparison.png", title)
    learning_curves({"ppo": [run_dir / "curve.json"]}, out / "learning_curve.png", "PPO training")
    text = "\n".join(
        [
            "# Main job: PPO on EmoDialogue-v1",
            "",
            f"{title}. 95 % intervals: Wilson for rates, Student's t for means. Run: `{run_dir}`.",
            "",
            markdown_table(results),
            "",
            f"PPO beats random on success: {verdict['success_beats_random']}; on final mood: "
            f"{verdict['mood_beats_random']} (interval of PPO entirely above that of random).",
            "",
            f"Wall time {timing['wall_seconds']:.0f} s (posteriors cache "
            f"{timing['cache_seconds']:.0f} s, training {timing['train_seconds']:.0f} s at "
            f"{timing['train_steps_per_second']} steps/s), "
            f"peak memory {timing['peak_rss_mb']:.0f} MB (the largest process).",
            "",
            "![comparison](comparison.png)",
            "",
            "![learning curve](learning_curve.png)",
            "",
        ]
    )
    atomic_write(out / "report.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    from emorl.console import make_console

    make_console(stderr=True).print(
        f"main job: {wall:.0f} s; report {out / 'report.md'}; "
        f"PPO beats random on success {verdict['success_beats_random']}, "
        f"on final mood {verdict['mood_beats_random']}"
    )
    return {"results": results, "verdict": verdict, "timing": timing}


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, child) / 1024


__all__ = ["main_job"]


if __name__ == "__main__":
    main_job()
