"""Write the shipped IEmoNet's model card from its config and the measured results.

    python scripts/iemonet_card.py --cv runs/fusion-paired-cv/results.json \
        [--bench benchmarks/results/iemonet.json] [--model emorl/models/iemonet-4class]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = {
    "ser": "SER alone (retrained per fold)",
    "ter": "TER alone (shipped, frozen)",
    "fusion_feedforward": "Fusion, feed-forward (paper)",
    "fusion_attention": "Fusion, attention",
    "joint_feedforward": "Fusion FF + joint fine-tuning",
}


def fmt(entry: dict) -> str:
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def results_table(cv: dict) -> list[str]:
    rows = [
        "| system | WA provided | UA provided | WA 6 % WER | UA 6 % WER |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in NAMES.items():
        system = cv["systems"].get(key)
        if not system:
            continue
        cells = []
        for condition in ("provided", "noisy"):
            run = system.get(condition)
            cells += [fmt(run["accuracy"]), fmt(run["ua"])] if run else ["-", "-"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def calibration_table(cv: dict) -> list[str]:
    rows = [
        "| block / transcripts | T | val ECE before | val ECE after | test ECE before | "
        "test ECE after |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, c in cv.get("calibration_mean", {}).items():
        rows.append(
            f"| {name} | {c['temperature']:.3f} | {c['val_ece_before']:.3f} | "
            f"{c['val_ece_after']:.3f} | {c['test_ece_before']:.3f} | {c['test_ece_after']:.3f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cv", type=Path, required=True)
    parser.add_argument("--bench", type=Path, default=ROOT / "benchmarks/results/iemonet.json")
    parser.add_argument("--model", type=Path, default=ROOT / "emorl/models/iemonet-4class")
    args = parser.parse_args()
    config = json.loads((args.model / "config.json").read_text())
    cv = json.loads(args.cv.read_text())
    data = config["data"]
    kind = config["model"]["kind"]
    lines = [
        f"# {args.model.name}",
        "",
        "The default IEmoNet of emorl: four classes (`neutral`, `happy`, `sad`, `angry`), the",
        f"shipped TER and SER frozen, a {kind} fusion block on their concatenated",
        "penultimate features, and the packaged Whisper tiny.en (int8, faster-whisper) as",
        "ASR. `IEmoNet.from_pretrained()` loads it offline;",
        "`emorl recognize FILE.wav [--text ...] --json` runs it.",
        "",
        "## What is in this folder",
        f"- `model.safetensors`: the fusion block only ({config['model']['hidden_size']} hidden "
        f"units, dropout {config['model']['dropout']}).",
        "- `config.json`: block config, label map, the temperature, and the TER and SER by",
        "  name plus the SHA-256 of their weights:",
        f"  `{config['parts']['ter']['name']}` ({config['parts']['ter']['sha256'][:12]}...), "
        f"`{config['parts']['ser']['name']}` ({config['parts']['ser']['sha256'][:12]}...).",
        "  Loading refuses sub-models with other weights: retrain the block for them",
        "  (`emorl train fusion --ter DIR --ser DIR ...`).",
        "",
        "## Training data: a label-paired set (not natural bimodal speech)",
        "No corpus available here pairs real emotional speech with meaningful transcripts",
        "(RAVDESS actors read two fixed sentences). Each RAVDESS clip (actors 1-20, neutral+calm,",
        "happy, sad, angry) is joined with a MELD dev or DailyDialog validation utterance of the",
        "same label. The text did not come from the clip: the modalities are linked by the",
        "label only, so the fusion learns to combine two independent votes. Texts come only",
        "from splits the TER never trained on. Speakers and dialogues are dealt into aligned",
        "groups so that any split by group keeps both apart.",
        f"- {data['n']} pairs ("
        + ", ".join(f"{k} {v}" for k, v in data["counts"].items())
        + f"); {data['speakers']} speakers, {data['dialogues']} dialogues,",
        f"  {data['distinct_texts']} distinct texts ("
        + ", ".join(f"{k} {v}" for k, v in data["text_corpora"].items())
        + ").",
        "- Licences: RAVDESS CC BY-NC-SA 4.0; MELD GPL-3.0; DailyDialog CC BY-NC-SA 4.0.",
        "  The shipped TER and SER carry their own cards.",
        "",
        "## Training",
        f"Fusion block: {config['training']['epochs']} epochs (the paper's fixed count), Adam "
        f"{config['training']['learning_rate']}, batch {config['training']['batch_size']},",
        "class-weighted cross-entropy, TER and SER frozen, on all pairs. The shipped SER has",
        "heard every RAVDESS actor, so its features on these clips are better than on new",
        "speakers; the metrics below therefore come from the cross-validation, where the SER",
        "is retrained without the test actors.",
        "",
        f"Temperature: {config['temperature']:.3f}. Source: {config['calibration']['source']}.",
        "",
        "## Metrics: speaker- and dialogue-exclusive cross-validation on the label-paired set",
        *[f"- {k}: {v}" for k, v in cv["protocol"].items()],
        "",
        "```bash",
        "emorl evaluate fusion --cv --groups 2 --seeds 3 --out runs/fusion-paired-cv \\",
        "  --speech-data ravdess --text-corpus meld --text-data meld/dev_sent_emo.csv \\",
        "  --text-corpus dailydialog --text-data dailydialog/validation",
        "```",
        "",
        *results_table(cv),
        "",
        "Calibration of the fused posteriors (temperature fitted on held-out training",
        "speakers; ECE with 15 bins):",
        "",
        *calibration_table(cv),
        "",
    ]
    if args.bench.is_file():
        bench = json.loads(args.bench.read_text())
        stages = bench["latency"]["stages"]
        lines += [
            "## Speed (2 CPU threads, 3 s utterance, ASR transcripts)",
            f"Load: {bench['load']['load_s']} s (TER + SER + fusion "
            f"{bench['load']['parts_s']} s, Whisper {bench['load']['asr_s']} s).",
            "",
            "| stage | p50 ms | p95 ms |",
            "|---|---:|---:|",
            *[f"| {s} | {v['p50_ms']} | {v['p95_ms']} |" for s, v in stages.items()],
            "",
            f"Throughput: {bench['throughput']['batched_provided_utt_per_s']} utterances/s "
            "batched (32 clips, provided transcripts);",
            f"{bench['throughput']['one_by_one_with_asr_utt_per_s']} utterances/s one by one "
            "with ASR.",
            "",
            "Measured with `nice -n 15` while other jobs kept both cores busy (load average",
            "about 4.5 on 2 cores). The ASR stage dominates: Whisper always encodes a 30 s",
            "window. `OMP_WAIT_POLICY=PASSIVE` matters here: with OpenMP's default active",
            "wait, the ASR's idle threads starved the TER stage that follows (3.7 s instead",
            "of 28 ms).",
            "",
        ]
    lines += [
        "## Limitations",
        "- Label-paired, acted data: real conversations link words and voice; expect",
        "  different (likely lower) fused accuracy on natural speech. On IEMOCAP, run",
        "  `emorl experiment iemocap --root PATH`.",
        "- The SER needs per-speaker normalisation: adapt a new speaker with a few clips",
        "  (`model.ser.adapt_speaker(name, clips)`, then `predict(..., speaker=name)`).",
        "- Text-only calls return the TER's posteriors; audio-only calls without a usable",
        "  transcript return the SER's; neither is temperature-scaled.",
    ]
    (args.model / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.model / 'README.md'}")


if __name__ == "__main__":
    main()
