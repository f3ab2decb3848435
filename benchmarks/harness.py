"""What every benchmark script shares: phases in fresh processes, timings, peak memory."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def peak_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    """p50 and p95 wall time of ``fn`` in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        begun = time.perf_counter()
        fn()
        times.append((time.perf_counter() - begun) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


def phase_arguments(description: str) -> argparse.ArgumentParser:
    """The options every phased benchmark takes (what :func:`run_phase` passes on)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    return parser


def run_phase(script: str, name: str, data: Path, threads: int, extra: Sequence[str] = ()) -> dict:
    """Run ``script --phase name`` in a fresh process; its last stdout line is JSON.

    ``extra``: further command-line arguments the phase needs.
    """
    command = [
        sys.executable,
        script,
        "--phase",
        name,
        "--data",
        str(data),
        "--threads",
        str(threads),
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"phase {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_results(name: str, report: dict) -> Path:
    """``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
