"""Speech recognition speed, memory and accuracy on this machine's CPU.

Phases, each in a fresh process so that its peak memory is its own:
- ``load``: time to load the packaged Whisper tiny.en (int8) with faster-whisper;
- ``latency``: p50/p95 of one transcription of a 3 s and of a 10 s clip (default settings:
  beam 5, voice-activity filter on), after a warm-up;
- ``wer``: word error rate and real-time factor on the read speech of
  ``asr_samples`` (LibriVox utterances, Sphinx "cards", ``goforward.raw``);
- ``noise``: the transcript-noise simulator's achieved WER at targets 0.06, 0.15 and 0.30 on
  MELD dev utterances.

Clips are real read speech from ``--data`` (default ``../shared/data``) when present, else
sentences spoken by espeak-ng; ``wer`` and ``noise`` need the data and are skipped without
it. Writes ``benchmarks/results/asr.json`` and prints markdown tables.

    python benchmarks/bench_asr.py [--data DIR] [--threads N]
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import ROOT, peak_mb, phase_arguments, run_phase, timed, write_results

SR = 16000
LIBRIVOX = "asr_samples/librivox_cards/test/data/librivox/sense_and_sensibility_01_austen_64kb-{}"
SENTENCES = (
    "I would like to check the balance of my account, please.",
    "This is the third time I am calling and nobody has fixed it yet.",
)


def speech(data: Path, seconds: float) -> tuple[np.ndarray, str]:
    """``seconds`` of read speech: LibriVox utterances joined, or espeak-ng sentences."""
    from emorl.audio import load_audio

    pieces = [data / LIBRIVOX.format(n) for n in ("0880", "0870", "0890")]
    if all(p.with_suffix(".wav").is_file() for p in pieces):
        joined = np.concatenate([load_audio(p.with_suffix(".wav")).samples for p in pieces])
        source = "LibriVox read speech"
    elif shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "speech.wav"
            text = " ".join(SENTENCES * 3)
            subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
            joined = load_audio(path).samples
        source = "espeak-ng speech"
    else:
        raise SystemExit("no speech: needs ../shared/data or espeak-ng")
    need = int(seconds * SR)
    return np.resize(joined, need).astype(np.float32), source


def phase_load(threads: int) -> dict:
    begun = time.perf_counter()
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber

    transcriber = WhisperTranscriber(WhisperConfig(cpu_threads=threads)).load()
    return {
        "seconds": time.perf_counter() - begun,
        "model_seconds": transcriber.load_seconds,
        "peak_memory_mb": peak_mb(),
    }


def phase_latency(data: Path, threads: int) -> dict:
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber

    transcriber = WhisperTranscriber(WhisperConfig(cpu_threads=threads)).load()
    result = {}
    for seconds in (3, 10):
        samples, source = speech(data, seconds)
        result[f"clip_{seconds}s"] = timed(
            lambda s=samples: transcriber.transcribe(s, sampling_rate=SR), 20
        )
        result["source"] = source
    result["peak_memory_mb"] = peak_mb()
    return result


def phase_wer(data: Path, threads: int) -> dict:
    from emorl.asr.evaluation import evaluate_transcriber
    from emorl.asr.samples import sample_items
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber

    root = data / "asr_samples"
    if not root.is_dir():
        return {"skipped": f"{root} not found"}
    transcriber = WhisperTranscriber(WhisperConfig(cpu_threads=threads)).load()
    items = sample_items(root)
    transcriber.transcribe(items[0].audio_path)  # warm-up
    report = evaluate_transcriber(items, transcriber, progress=False)
    report.pop("failed")
    report["peak_memory_mb"] = peak_mb()
    return report


def phase_noise(data: Path) -> dict:
    from emorl.asr.noise import TranscriptNoise
    from emorl.asr.wer import ErrorCounts
    from emorl.data import load_corpus

    path = data / "meld" / "dev_sent_emo.csv"
    if not path.is_file():
        return {"skipped": f"{path} not found"}
    corpus = load_corpus("meld", path, labels="full")
    texts = [u.text for u in corpus.utterances if u.text]
    keys = [u.id for u in corpus.utterances if u.text]
    result: dict = {"corpus": "MELD dev", "utterances": len(texts)}
    for target in (0.06, 0.15, 0.30):
        begun = time.perf_counter()
        noised = TranscriptNoise(target, seed=0).apply_corpus(texts, keys)
        seconds = time.perf_counter() - begun
        total = sum((r.counts for r in noised), ErrorCounts())
        result[str(target)] = {**total.to_dict(), "seconds": seconds}
    return result


def main() -> None:
    args = phase_arguments(__doc__.splitlines()[0]).parse_args()
    if args.phase:
        result = {
            "load": lambda: phase_load(args.threads),
            "latency": lambda: phase_latency(args.data, args.threads),
            "wer": lambda: phase_wer(args.data, args.threads),
            "noise": lambda: phase_noise(args.data),
        }[args.phase]()
        print(json.dumps(result))
        return
    results = {
        name: run_phase(__file__, name, args.data, args.threads)
        for name in ("load", "latency", "wer", "noise")
    }
    import ctranslate2
    import faster_whisper

    report = {
        "machine": {
            "cpu_threads": args.threads,
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "faster_whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
        },
        "model": "Whisper tiny.en, int8, beam 5, VAD on",
        "results": results,
    }
    path = write_results("asr", report)
    r = results
    lat = r["latency"]
    print(f"| ASR, Whisper tiny.en int8, {args.threads} CPU threads | value | peak memory |")
    print("|---|---|---|")
    print(f"| model load | {r['load']['seconds']:.2f} s | {r['load']['peak_memory_mb']:.0f} MB |")
    for seconds in (3, 10):
        t = lat[f"clip_{seconds}s"]
        print(
            f"| {seconds} s clip ({lat['source']}), p50 / p95 | "
            f"{t['p50_ms'] / 1000:.2f} / {t['p95_ms'] / 1000:.2f} s | "
            f"{lat['peak_memory_mb']:.0f} MB |"
        )
    if "wer" in r["wer"]:
        w = r["wer"]
        print(
            f"| WER / RTF on {w['n']} read-speech clips ({w['words']} words, "
            f"{w['audio_seconds']:.0f} s) | {w['wer']:.3f} / {w['rtf']:.3f} | "
            f"{w['peak_memory_mb']:.0f} MB |"
        )
    if "corpus" in r["noise"]:
        n = r["noise"]
        print(f"\n| noise target ({n['corpus']}) | achieved WER | S / D / I | words |")
        print("|---|---|---|---|")
        for target in ("0.06", "0.15", "0.3"):
            x = n[target]
            print(
                f"| {target} | {x['wer']:.4f} | {x['substitutions']} / {x['deletions']} / "
                f"{x['insertions']} | {x['words']} |"
            )
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
