"""Whisper-encoder SER features: encoder states of a 3 s clip, unpadded against padded to 30 s.

Phases per model (``tiny.en``, ``base`` when installed), each in a fresh process:
model load, :meth:`WhisperEncoderFeatures.states` of a 3 s RAVDESS clip (the clip's own
frames, mel included), and the same clip's mel padded to Whisper's 30 s window and
encoded (what an ASR pass costs). Writes ``benchmarks/results/whisper_ser.json``.

    python benchmarks/bench_whisper_ser.py [--threads 2] [--repeats 20]
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from harness import peak_mb, phase_arguments, run_phase, timed, write_results

MODELS = ("tiny.en", "base")


def _clip(data) -> np.ndarray:
    from emorl.audio import load_audio

    path = next(iter(sorted((data / "ravdess").rglob("*.flac"))), None)
    if path is None:
        raise SystemExit(f"no RAVDESS clip under {data / 'ravdess'}")
    samples = load_audio(path).samples
    return samples[: 3 * 16_000]


def phase(model: str, data, threads: int, repeats: int) -> dict:
    import ctranslate2

    from emorl.recognizers.whisper_ser import WhisperEncoderFeatures

    clip = _clip(data)
    begun = time.perf_counter()
    features = WhisperEncoderFeatures(model, threads=threads, cache_dir=False).load()
    load_s = time.perf_counter() - begun
    unpadded = timed(lambda: features.states(clip, 16_000), repeats)
    mel = features.mel(clip)
    window = np.zeros((1, mel.shape[0], 3000), dtype=np.float32)
    window[0, :, : mel.shape[1]] = mel
    padded = timed(
        lambda: features._encoder.encode(ctranslate2.StorageView.from_array(window)), repeats
    )
    return {
        "model": model,
        "load_s": round(load_s, 3),
        "states_3s_unpadded": unpadded,
        "encode_3s_padded_30s": padded,
        "peak_mb": round(peak_mb(), 1),
    }


def main() -> None:
    parser = phase_arguments(__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.data, args.threads, args.repeats)))
        return
    from emorl.recognizers.whisper_ser import resolve_whisper_folder

    phases, load = {}, os.getloadavg()[0]
    for model in MODELS:
        try:
            resolve_whisper_folder(model)
        except (FileNotFoundError, ValueError) as err:
            phases[model] = {"skipped": str(err)}
            continue
        extra = ["--repeats", str(args.repeats)]
        phases[model] = run_phase(__file__, model, args.data, args.threads, extra)
    report = {"threads": args.threads, "load_average_before": load, "phases": phases}
    write_results("whisper_ser", report)
    print("| model | load | states of 3 s, unpadded, p50 / p95 | padded to 30 s, p50 / p95 |")
    print("|---|---|---|---|")
    for model, row in phases.items():
        if "skipped" in row:
            print(f"| {model} | skipped: {row['skipped']} | | |")
            continue
        u, p = row["states_3s_unpadded"], row["encode_3s_padded_30s"]
        print(
            f"| {model} | {row['load_s']:.2f} s | {u['p50_ms']:.1f} / {u['p95_ms']:.1f} ms "
            f"| {p['p50_ms']:.0f} / {p['p95_ms']:.0f} ms |"
        )


if __name__ == "__main__":
    main()
