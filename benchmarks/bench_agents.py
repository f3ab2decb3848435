"""PPO training throughput on EmoDialogue-v1: environment steps/s with 1, 2 and 8 copies.

Each phase runs in a fresh process (``--phase ppo-<n>-<subproc|dummy>``): text
recognizer with the shipped posteriors, the shipped PPO hyperparameters with ``n``
copies (one environment in this process, one subprocess each, or, as the main job runs,
8 copies in this process), ``--steps`` steps, no evaluation, checkpoints or TensorBoard.
Reports steps/s, the peak resident memory of the main process and of each worker
(``VmHWM``). Writes ``benchmarks/results/agents.json``.

    OMP_NUM_THREADS=1 python benchmarks/bench_agents.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from harness import peak_mb, write_results


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase(n_envs: int, steps: int, vec_env: str = "subproc") -> dict:
    import torch

    from emorl.agents.config import algo_class, load_hyperparams, split_config
    from emorl.agents.envs import make_vec_env
    from emorl.agents.train import resolve_env_kwargs

    torch.set_num_threads(1)
    run, algo_kwargs = split_config(load_hyperparams("ppo", "EmoDialogue-v1"))
    kwargs = resolve_env_kwargs("EmoDialogue-v1", "eq2", run.get("env_kwargs"), False)
    venv = make_vec_env("EmoDialogue-v1", kwargs, n_envs, 0, vec_env=vec_env)
    model = algo_class("ppo")(run["policy"], venv, seed=0, device="cpu", **algo_kwargs)
    begun = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - begun
    workers = [_vm_hwm_mb(p.pid) for p in getattr(venv, "processes", [])]
    venv.close()
    return {
        "n_envs": n_envs,
        "vec_env": vec_env if n_envs > 1 else "in process",
        "steps": int(model.num_timesteps),
        "seconds": round(seconds, 2),
        "steps_per_s": round(model.num_timesteps / seconds, 1),
        "main_peak_mb": round(peak_mb(), 1),
        "worker_peak_mb": [round(w, 1) for w in workers],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phase", default=None)
    parser.add_argument("--steps", type=int, default=20_480)
    args = parser.parse_args()
    if args.phase:
        _, n, vec = args.phase.split("-")
        print(json.dumps(phase(int(n), args.steps, vec)))
        return
    phases = []
    for n, vec in ((1, "dummy"), (2, "subproc"), (8, "dummy")):
        name = f"ppo-{n}-{vec}"
        command = [sys.executable, __file__, "--phase", name, "--steps", str(args.steps)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        phases.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "phases": phases,
    }
    write_results("agents", report)
    print("| environments | steps/s | main process peak MB | worker peak MB |")
    print("|---|---:|---:|---|")
    for p in phases:
        workers = ", ".join(f"{w:.0f}" for w in p["worker_peak_mb"]) or "-"
        where = f"{p['n_envs']} ({p['vec_env']})"
        print(f"| {where} | {p['steps_per_s']:,.0f} | {p['main_peak_mb']:.0f} | {workers} |")


if __name__ == "__main__":
    main()
