"""Speech emotion recognition speed and memory on this machine's CPU.

Phases, each in a fresh process so that its peak memory is its own:
- ``features``: IS09 frame extraction (16 LLDs + 16 deltas) and functionals for a 3 s clip;
- ``forward``: the paper network on one 3 s clip (384 frames) and on a batch of 32;
- ``epoch``: one training epoch on 648 clips of 384 frames (the size of a RAVDESS
  four-class training fold), batch 32.

A 3 s clip is taken from RAVDESS under ``--data`` when present, else synthesised.
Writes ``benchmarks/results/ser.json`` and prints a markdown table.

    python benchmarks/bench_ser.py [--data DIR] [--threads N]
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
from harness import ROOT, peak_mb, phase_arguments, run_phase, timed, write_results

SR = 16000


def clip(data: Path) -> tuple[np.ndarray, str]:
    """Three seconds of speech (RAVDESS when available) or of a synthetic voiced tone."""
    files = sorted((data / "ravdess").glob("Actor_*/*.flac"))
    if files:
        from emorl.audio import load_audio

        samples = load_audio(files[0]).samples
        reps = -(-3 * SR // len(samples))
        return np.tile(samples, reps)[: 3 * SR].copy(), "RAVDESS speech"
    t = np.arange(3 * SR) / SR
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3, 4))
    return (0.2 * voice * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32), "synthetic"


def phase_features(samples: np.ndarray) -> dict:
    from emorl.recognizers.speech.features import SpeechFeatureExtractor

    extractor = SpeechFeatureExtractor()
    # a new clip each call (scaled by under 2 %): the extractor keeps the frames of recent
    # clips in memory, and a repeated clip would be served from there
    variants = iter([samples * np.float32(1 - 0.0005 * i) for i in range(40)])
    return {
        "frames": timed(lambda: extractor.frames(next(variants), SR), 20),
        "functionals": timed(lambda: extractor.functionals(samples, SR), 20),
        "peak_memory_mb": peak_mb(),
    }


def phase_forward() -> dict:
    import torch

    from emorl.recognizers.speech.network import SERNet, SERNetConfig

    net = SERNet(SERNetConfig()).eval()
    one = torch.randn(1, 384, 32)
    batch = torch.randn(32, 384, 32)
    with torch.inference_mode():
        single = timed(lambda: net(one, torch.tensor([300])), 20)
        many = timed(lambda: net(batch, torch.full((32,), 384)), 5)
    return {"single_clip": single, "batch_32": many, "peak_memory_mb": peak_mb()}


def phase_epoch() -> dict:
    import torch

    from emorl.recognizers.speech.network import SERNet, SERNetConfig

    torch.manual_seed(0)
    net = SERNet(SERNetConfig())
    x = torch.randn(648, 384, 32)
    lengths = torch.randint(290, 385, (648,))
    y = torch.randint(0, 4, (648,))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    begun = time.perf_counter()
    for start in range(0, 648, 32):
        loss = torch.nn.functional.cross_entropy(
            net(x[start : start + 32], lengths[start : start + 32]), y[start : start + 32]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"seconds": time.perf_counter() - begun, "clips": 648, "peak_memory_mb": peak_mb()}


def main() -> None:
    args = phase_arguments(__doc__.splitlines()[0]).parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.phase:
        samples, _ = clip(args.data)
        result = {
            "features": lambda: phase_features(samples),
            "forward": phase_forward,
            "epoch": phase_epoch,
        }[args.phase]()
        print(json.dumps(result))
        return
    _, source = clip(args.data)
    results = {
        name: run_phase(__file__, name, args.data, args.threads)
        for name in ("features", "forward", "epoch")
    }
    report = {
        "machine": {
            "cpu_threads": args.threads,
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        },
        "clip": source,
        "results": results,
    }
    path = write_results("ser", report)
    f, n, e = results["features"], results["forward"], results["epoch"]
    print(f"| SER, {args.threads} CPU threads, 3 s {source} clip | time | peak memory |")
    print("|---|---|---|")
    print(
        f"| IS09 frames (LLD + deltas), p50 / p95 | {f['frames']['p50_ms']:.1f} / "
        f"{f['frames']['p95_ms']:.1f} ms | {f['peak_memory_mb']:.0f} MB |"
    )
    print(
        f"| IS09 functionals, p50 / p95 | {f['functionals']['p50_ms']:.1f} / "
        f"{f['functionals']['p95_ms']:.1f} ms | |"
    )
    print(
        f"| network forward, one clip, p50 / p95 | {n['single_clip']['p50_ms']:.1f} / "
        f"{n['single_clip']['p95_ms']:.1f} ms | {n['peak_memory_mb']:.0f} MB |"
    )
    print(f"| network forward, batch of 32, p50 | {n['batch_32']['p50_ms']:.0f} ms | |")
    print(
        f"| training epoch, 648 clips x 384 frames | {e['seconds']:.1f} s | "
        f"{e['peak_memory_mb']:.0f} MB |"
    )
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
