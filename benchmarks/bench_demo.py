"""Live demo latency per utterance, p50/p95 (target: recognition p50 <= 0.5 s).

A recording of ``--utterances`` espeak-ng phrases of about 3 s (alternating emotional
prosody, 1.2 s of silence between them) is streamed through the demo's own loop
(``FileSource`` -> ``UtteranceSegmenter`` -> ``DemoSession``, scripted agent) at real-time
pace, as a microphone would deliver it. Per utterance it records

* ``recognition``: IEmoNet with Whisper plus the caller's speaker statistics, whenever
  it ran (speculatively during the end-of-speech silence, or after the end was decided);
* ``processing``: end of speech decided -> turn ready to display (what is left of the
  recognition, reward, estimator, agent);
* ``endpoint``: the silence the segmenter waits before deciding (``--min-silence-ms``);
* ``end_of_speech_to_display``: endpoint + queueing + processing, the wall time a
  speaker waits.

``--no-speculation`` recognises only after the end is decided (compare both).
``OMP_WAIT_POLICY=PASSIVE`` is set unless ``--omp-wait`` says otherwise (compare both with
``--omp-wait ACTIVE``). The machine's load average is recorded. Writes
``benchmarks/results/<--name>.json`` and prints a markdown table.

    python benchmarks/bench_demo.py [--threads 2] [--utterances 12] [--fast]
        [--no-speculation] [--name demo]
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--utterances", type=int, default=12)
    parser.add_argument("--min-silence-ms", type=int, default=500)
    parser.add_argument("--omp-wait", default="PASSIVE", choices=("PASSIVE", "ACTIVE"))
    parser.add_argument("--fast", action="store_true", help="stream as fast as possible")
    parser.add_argument(
        "--no-speculation", action="store_true", help="recognise only after the end is decided"
    )
    parser.add_argument("--name", default="demo", help="results/<name>.json")
    args = parser.parse_args()
    os.environ["OMP_WAIT_POLICY"] = args.omp_wait
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    run(args)


PHRASES = (
    ("I was charged twice on my bill and nobody has called me back.", "angry"),
    ("My account number is in the letter you sent me last week.", "neutral"),
    ("That is wonderful, thank you so much for sorting it out.", "happy"),
    ("I have been waiting for my router for more than three weeks.", "sad"),
)


def recording(n: int, path: str) -> list[float]:
    """Write ``n`` phrases between silences; return each phrase's duration (s)."""
    import numpy as np
    import soundfile as sf

    from emorl.envs.tts import SpeechSynthesiser

    tts = SpeechSynthesiser()
    gap = np.zeros(int(1.2 * 16_000), np.float32)
    parts, durations = [gap], []
    for i in range(n):
        text, emotion = PHRASES[i % len(PHRASES)]
        clip = tts.synthesise(text, emotion, i % 6)
        parts += [clip, gap]
        durations.append(len(clip) / 16_000)
    sf.write(path, np.concatenate(parts), 16_000)
    return durations


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    v = np.sort(np.asarray(values))
    return {
        "p50_s": round(float(np.median(v)), 3),
        "p95_s": round(float(v[int(0.95 * (len(v) - 1))]), 3),
        "max_s": round(float(v[-1]), 3),
    }


def run(args: argparse.Namespace) -> None:
    import platform
    import tempfile
    import time
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness import peak_mb, write_results

    from emorl.demo.app import DemoOptions, build_session, warm_up
    from emorl.demo.audio_source import FileSource
    from emorl.demo.segmenter import SegmenterConfig, UtteranceSegmenter
    from emorl.demo.session import run_demo

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        wav = str(Path(folder) / "utterances.wav")
        durations = recording(args.utterances, wav)
        begun = time.perf_counter()
        session = build_session(DemoOptions())
        warm_up(session)
        load_s = time.perf_counter() - begun
        segmenter = UtteranceSegmenter(
            SegmenterConfig(
                min_silence_ms=args.min_silence_ms,
                speculate_ms=None if args.no_speculation else SegmenterConfig.speculate_ms,
            )
        )
        summary = run_demo(FileSource(wav, fast=args.fast), session, segmenter)
    turns = summary.turns
    if len(turns) != args.utterances:
        print(f"warning: {len(turns)} utterances found, {args.utterances} spoken", file=sys.stderr)
    latency = {
        key: percentiles([t.latency[key] for t in turns])
        for key in ("recognition", "processing", "endpoint", "end_of_speech_to_display")
    }
    stages = {
        key: percentiles([t.timings[key] for t in turns])
        for key in ("asr", "features", "ser", "ter", "turn")
    }
    report = {
        "utterances": len(turns),
        "speech_s": percentiles(durations),
        "pace": "fast" if args.fast else "real time",
        "threads": args.threads,
        "omp_wait_policy": args.omp_wait,
        "min_silence_ms": args.min_silence_ms,
        "speculation": not args.no_speculation,
        "speculative_turns": sum(t.speculative for t in turns),
        "load_s": round(load_s, 2),
        "latency": latency,
        "stages": stages,
        "target_p50_s": 0.5,
        "meets_target": latency["recognition"]["p50_s"] <= 0.5,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "peak_mb": round(peak_mb(), 1),
        "python": platform.python_version(),
    }
    path = write_results(args.name, report)
    print(f"| measure ({len(turns)} utterances, {args.threads} threads) | p50 s | p95 s |")
    print("|---|---|---|")
    for key, value in {**latency, **{f"stage {k}": v for k, v in stages.items()}}.items():
        print(f"| {key} | {value['p50_s']:.3f} | {value['p95_s']:.3f} |")
    print(
        f"load average before/after: {report['load_average_before']} / "
        f"{report['load_average_after']}; results: {path}"
    )


if __name__ == "__main__":
    main()
