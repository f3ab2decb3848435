"""Text emotion recognition speed and memory on this machine's CPU.

Measures, each phase in a fresh process so that its peak memory is its own:
- ``train``: fine-tuning throughput (tweets/s) with the shipped configuration (lowest
  two encoder layers frozen), with every encoder layer trained, and, when it is installed
  (``emorl models install all-mpnet-base-v2``), all-mpnet-base-v2 with every layer
  trained, side by side;
- ``batch``: batched inference throughput (sentences/s) with the shipped model;
- ``single``: one-sentence latency (p50/p95) with the shipped model;
- ``load``: time to load the shipped model.

Sentences are SemEval-2017 tweets from ``--data`` (default ``../shared/data``) when
present, else a fixed set of built-in sentences. Writes ``benchmarks/results/ter.json``
and prints a markdown table.

    python benchmarks/bench_ter.py [--data DIR] [--threads N]
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from harness import ROOT, peak_mb, phase_arguments, run_phase, write_results

FALLBACK = [
    "Thank you so much, that solved my problem!",
    "I've been waiting on hold for an hour and nobody can tell me anything.",
    "I just heard that my grandmother passed away.",
    "My account number is 4471 and I'd like to check the balance.",
    "This is the third time I'm calling and you still haven't fixed it. Unacceptable!",
    "Could you tell me when the store opens tomorrow?",
    "I'm so excited about the trip next week, everything is booked.",
    "Fine. Whatever. Just cancel it.",
]


def sentences(data: Path, n: int) -> tuple[list[str], str]:
    tweets = data / "semeval2017_4a" / "train.tsv"
    if tweets.is_file():
        from emorl.data import load_corpus

        corpus = load_corpus("semeval", tweets)
        return [u.text for u in corpus.utterances[:n]], "SemEval-2017 tweets"
    reps = -(-n // len(FALLBACK))
    return (FALLBACK * reps)[:n], "built-in sentences"


def phase_train(texts: list[str], frozen_layers: int, encoder: str | None = None) -> dict:
    import numpy as np
    import torch

    from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

    config = TERConfig(frozen_layers=frozen_layers)
    if encoder is not None:
        config.encoder = encoder
    model = TextEmotionRecognizer.create(config, seed=0)
    tokens = model.tokenize(texts).ids
    labels = torch.from_numpy(np.arange(len(texts)) % len(model.labels))
    params = [p for p in model.net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=3e-5)
    model.net.train()

    def step(start: int) -> None:
        ids, mask = model.collate(tokens[start : start + 32])
        loss = torch.nn.functional.cross_entropy(model.net(ids, mask), labels[start : start + 32])
        loss = loss + model.config.l2 * model.net.l2_penalty()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(0)  # warm-up
    begun = time.perf_counter()
    for start in range(32, len(texts), 32):
        step(start)
    seconds = time.perf_counter() - begun
    trained = sum(p.numel() for p in params)
    return {
        "tweets_per_second": (len(texts) - 32) / seconds,
        "trained_parameters": trained,
        "peak_memory_mb": peak_mb(),
    }


def phase_batch(texts: list[str]) -> dict:
    from emorl.recognizers.text.model import TextEmotionRecognizer

    model = TextEmotionRecognizer.from_pretrained()
    model.probabilities(texts[:64])
    begun = time.perf_counter()
    model.probabilities(texts, batch_size=64)
    seconds = time.perf_counter() - begun
    return {"sentences_per_second": len(texts) / seconds, "peak_memory_mb": peak_mb()}


def phase_single(texts: list[str]) -> dict:
    from emorl.recognizers.text.model import TextEmotionRecognizer

    model = TextEmotionRecognizer.from_pretrained()
    for text in texts[:10]:
        model.predict_proba(text)
    latencies = []
    for text in texts:
        begun = time.perf_counter()
        model.predict_proba(text)
        latencies.append((time.perf_counter() - begun) * 1000)
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "peak_memory_mb": peak_mb(),
    }


def phase_load() -> dict:
    begun = time.perf_counter()
    from emorl.recognizers.text.model import TextEmotionRecognizer

    TextEmotionRecognizer.from_pretrained()
    return {"seconds": time.perf_counter() - begun, "peak_memory_mb": peak_mb()}


def mpnet_installed() -> bool:
    from emorl.artifacts import ModelFolderError
    from emorl.recognizers.text.mpnet import mpnet_folder

    try:
        mpnet_folder()
    except ModelFolderError:
        return False
    return True


def main() -> None:
    args = phase_arguments(__doc__.splitlines()[0]).parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.phase:
        texts, _ = sentences(args.data, 2000)
        result = {
            "train_frozen2": lambda: phase_train(texts[:672], 2),
            "train_full": lambda: phase_train(texts[:672], 0),
            "train_mpnet": lambda: phase_train(texts[:160], 0, "all-mpnet-base-v2"),
            "batch": lambda: phase_batch(texts),
            "single": lambda: phase_single(texts[:300]),
            "load": phase_load,
        }[args.phase]()
        print(json.dumps(result))
        return
    _, source = sentences(args.data, 8)
    phases = ["load", "single", "batch", "train_frozen2", "train_full"]
    if mpnet_installed():
        phases.append("train_mpnet")
    results = {name: run_phase(__file__, name, args.data, args.threads) for name in phases}
    report = {
        "machine": {
            "cpu_threads": args.threads,
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "sentences": source,
        "results": results,
    }
    path = write_results("ter", report)
    r = results
    rows = [
        ("model load (shipped TER)", f"{r['load']['seconds']:.2f} s", r["load"]["peak_memory_mb"]),
        (
            "single-sentence latency p50 / p95",
            f"{r['single']['p50_ms']:.1f} / {r['single']['p95_ms']:.1f} ms",
            r["single"]["peak_memory_mb"],
        ),
        (
            "batched inference (batch 64)",
            f"{r['batch']['sentences_per_second']:.0f} sentences/s",
            r["batch"]["peak_memory_mb"],
        ),
        (
            "fine-tuning, shipped config (top 4 of 6 layers)",
            f"{r['train_frozen2']['tweets_per_second']:.1f} tweets/s",
            r["train_frozen2"]["peak_memory_mb"],
        ),
        (
            "fine-tuning, all 6 layers",
            f"{r['train_full']['tweets_per_second']:.1f} tweets/s",
            r["train_full"]["peak_memory_mb"],
        ),
    ]
    if "train_mpnet" in r:
        rows.append(
            (
                "fine-tuning all-mpnet-base-v2, all 12 layers",
                f"{r['train_mpnet']['tweets_per_second']:.1f} tweets/s",
                r["train_mpnet"]["peak_memory_mb"],
            )
        )
    print(f"| TER, {args.threads} CPU threads, {source} | speed | peak memory |")
    print("|---|---|---|")
    for name, speed, memory in rows:
        print(f"| {name} | {speed} | {memory:.0f} MB |")
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
