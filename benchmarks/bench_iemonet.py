"""IEmoNet end to end: load time, per-stage latency of a 3 s utterance, batched throughput.

Phases, each in a fresh process so that its peak memory is its own:
- ``load``: ``IEmoNet.from_pretrained()`` (TER, SER, fusion block) plus loading the
  packaged Whisper tiny.en;
- ``latency``: ``predict(clip)`` on a 3 s clip with ASR transcripts, per stage (ASR, IS09
  features, SER, TER, fusion) and total, p50 and p95 over ``--repeats`` calls after a
  warm-up;
- ``throughput``: utterances/s of ``probabilities`` (features, SER, TER, fusion; provided
  transcripts) on batches of 32 clips, and of one-by-one ``predict`` with ASR.

The clip is 3 s of a RAVDESS recording from ``--data`` when present, else a synthetic
voiced tone. ``OMP_WAIT_POLICY=PASSIVE`` is set (see below). Writes
``benchmarks/results/iemonet.json`` and prints a markdown table.

``--ser ser-whisper-tiny-4class`` runs the IEmoNet built on that SER instead (the shipped
IEmoNet whose fusion block was trained on it; with the Whisper SER one encoder pass serves
ASR and SER, so ``features`` is the slicing of the ASR's states and ``ser`` the head) and
writes ``benchmarks/results/iemonet-<ser>.json``. ``--untrained-fusion`` composes the
shipped TER, that SER and a freshly initialised fusion block of the right width instead
(for timings only, before a block is trained for the SER; its posteriors mean nothing).

    python benchmarks/bench_iemonet.py [--data DIR] [--threads 2] [--repeats 30] \
        [--ser NAME [--untrained-fusion]]
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

# CTranslate2 (Whisper) and torch both use OpenMP; with the default active wait, the ASR's
# idle threads spin after each call and starve the torch stages that follow on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from harness import peak_mb, phase_arguments, run_phase, write_results

SR = 16000
STAGES = ("asr", "features", "ser", "ter", "fusion", "total")


def clip(data: Path, seconds: float = 3.0) -> tuple[np.ndarray, str]:
    from emorl.audio import load_audio

    path = data / "ravdess" / "Actor_01" / "03-01-05-01-01-01-01.flac"
    if path.is_file():
        samples = load_audio(path).samples
        out = np.zeros(int(seconds * SR), dtype=np.float32)
        out[: min(len(samples), len(out))] = samples[: len(out)]
        return out, f"RAVDESS {path.name}, first {seconds:g} s"
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * 160 * k * t) / k for k in (1, 2, 3))
    return (0.2 * tone).astype(np.float32), "synthetic voiced tone"


SER: str | None = None  # --ser, passed on to each phase
UNTRAINED_FUSION = False  # --untrained-fusion


def _model(**kwargs):
    from emorl.recognizers.iemonet import IEmoNet, default_asr

    if not UNTRAINED_FUSION:
        return IEmoNet.from_pretrained(ser=SER, **kwargs)
    from emorl.recognizers.fusion.model import FusionBlock, FusionConfig
    from emorl.recognizers.speech.branch import load_ser, speech_branch
    from emorl.recognizers.text.model import TextEmotionRecognizer

    ter = TextEmotionRecognizer.from_pretrained()
    ser = load_ser(SER)
    config = FusionConfig(
        text_size=ter.config.hidden_size, speech_size=speech_branch(ser).feature_size
    )
    block = FusionBlock.create(config, seed=0)
    return IEmoNet(ter, ser, block, asr=default_asr(None))


def phase_load(data: Path, threads: int, repeats: int) -> dict:
    begun = time.perf_counter()
    model = _model()
    parts = time.perf_counter() - begun
    model.asr.load()
    return {
        "load_s": round(time.perf_counter() - begun, 3),
        "parts_s": round(parts, 3),
        "asr_s": round(model.asr.load_seconds, 3),
        "peak_mb": round(peak_mb(), 1),
    }


def phase_latency(data: Path, threads: int, repeats: int) -> dict:
    audio, source = clip(data)
    model = _model()
    model.predict(audio, sampling_rate=SR)
    # a new clip each time (scaled by under 3 %), as live utterances are: the extractor
    # keeps the frames of recent clips in memory, and a repeated clip would be served there
    runs = [
        model.predict(audio * np.float32(1 - 0.001 * i), sampling_rate=SR).timings
        for i in range(repeats)
    ]
    out = {}
    for stage in STAGES:
        values = np.sort([r[stage] * 1000 for r in runs])
        out[stage] = {
            "p50_ms": round(float(np.median(values)), 2),
            "p95_ms": round(float(values[int(0.95 * (len(values) - 1))]), 2),
        }
    return {"clip": source, "repeats": repeats, "stages": out, "peak_mb": round(peak_mb(), 1)}


def phase_throughput(data: Path, threads: int, repeats: int) -> dict:
    audio, _ = clip(data)
    model = _model()
    batch = [audio * (0.5 + 0.5 * i / 32) for i in range(32)]
    texts = ["I can't believe you did that to me."] * 32
    model.probabilities(batch[:4], texts[:4], sampling_rate=SR)
    begun = time.perf_counter()
    model.probabilities(batch, texts, sampling_rate=SR)
    batched = 32 / (time.perf_counter() - begun)
    begun = time.perf_counter()
    for x in batch[:8]:
        model.predict(x, sampling_rate=SR)
    with_asr = 8 / (time.perf_counter() - begun)
    return {
        "batched_provided_utt_per_s": round(batched, 1),
        "one_by_one_with_asr_utt_per_s": round(with_asr, 2),
        "peak_mb": round(peak_mb(), 1),
    }


PHASES = {"load": phase_load, "latency": phase_latency, "throughput": phase_throughput}


def main() -> None:
    parser = phase_arguments(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--ser", default=None, help="SER name or folder (default: the shipped)")
    parser.add_argument(
        "--untrained-fusion",
        action="store_true",
        help="with --ser: an untrained fusion block of the right width (timings only)",
    )
    args = parser.parse_args()
    import torch

    global SER, UNTRAINED_FUSION
    SER, UNTRAINED_FUSION = args.ser, args.untrained_fusion
    torch.set_num_threads(args.threads)
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.data, args.threads, args.repeats)))
        return
    report = {
        "machine": {"cpu_threads": args.threads, "python": platform.python_version()},
        "ser": args.ser or "shipped default",
        "fusion": "untrained block of the right width: timings only"
        if args.untrained_fusion
        else "shipped",
        **{
            name: run_phase(
                __file__,
                name,
                args.data,
                args.threads,
                [
                    "--repeats",
                    str(args.repeats),
                    *(["--ser", args.ser] if args.ser else []),
                    *(["--untrained-fusion"] if args.untrained_fusion else []),
                ],
            )
            for name in PHASES
        },
    }
    name = "iemonet" if args.ser is None else f"iemonet-{Path(args.ser).name}"
    path = write_results(name, report)
    stages = report["latency"]["stages"]
    print(f"load: {report['load']['load_s']} s (TER+SER+fusion {report['load']['parts_s']} s)")
    print("| stage | p50 ms | p95 ms |\n|---|---:|---:|")
    for stage in STAGES:
        print(f"| {stage} | {stages[stage]['p50_ms']} | {stages[stage]['p95_ms']} |")
    print(json.dumps(report["throughput"]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
