"""Write a shipped IEmoNet's model card from its config.json (block, data, metrics).

Every figure in the card comes from ``config.json``: the out-of-domain cross-validations
``emorl train fusion --ood-results`` stored under ``metrics.ood``, the label-paired
cross-validation under ``metrics.cross_validation`` (``--cv-results``), the validation
split, and the benchmark file when given.

    python scripts/iemonet_card.py [--model emorl/models/iemonet-4class] \
        [--bench benchmarks/results/iemonet.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CV_NAMES = {
    "ser": "SER alone (retrained per fold)",
    "ter": "TER alone (shipped, frozen)",
    "fusion_feedforward": "Fusion, feed-forward (paper)",
    "fusion_attention": "Fusion, attention",
    "joint_feedforward": "Fusion FF + joint fine-tuning",
}
OOD_SYSTEMS = {
    "ter": "TER alone (shipped, frozen)",
    "ser": "SER alone (never heard the test actors)",
    "paper_insample": "paper's block, SER in-sample (first shipped recipe)",
    "paper_oof": "paper's block, out-of-fold SER",
    "reliability_oof": "+ reliability + modality dropout, clean",
    "ood": "+ reliability + modality dropout + OOD audio (**this recipe**)",
}
OOD_SETS = {
    "clean": "paired (held-out actors)",
    "noise": "noise 10 dB",
    "reverb": "reverb 0.6 s",
    "speed": "speed x0.9",
    "telephone": "telephone",
    "espeak": "espeak-ng",
    "piper": "Piper",
}
DATA_ARGS = (
    "--speech-data ravdess --text-corpus meld --text-data meld/dev_sent_emo.csv \\\n"
    "  --text-corpus dailydialog --text-data dailydialog/validation"
)


def fmt(entry: dict) -> str:
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def ood_table(run: dict, metric: str) -> list[str]:
    systems = run["systems"]
    sets = [s for s in OOD_SETS if any(s in v for v in systems.values())]
    rows = [
        "| system | " + " | ".join(OOD_SETS[s] for s in sets) + " |",
        "|---|" + "---:|" * len(sets),
    ]
    for key, name in OOD_SYSTEMS.items():
        if key in systems:
            cells = [fmt(systems[key][s][metric]) if s in systems[key] else "-" for s in sets]
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def cv_table(cv: dict) -> list[str]:
    rows = [
        "| system | WA provided | UA provided | WA 6 % WER | UA 6 % WER |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, name in CV_NAMES.items():
        system = cv["systems"].get(key)
        if system:
            cells = []
            for condition in ("provided", "noisy"):
                run = system.get(condition)
                cells += [fmt(run["accuracy"]), fmt(run["ua"])] if run else ["-", "-"]
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def train_command(config: dict, folder: Path) -> str:
    model, data = config["model"], config["data"]
    parts = [
        f"emorl train fusion --out {folder.name} --ser {config['parts']['ser']['name']}",
        f"--groups {data['groups']} {DATA_ARGS}",
    ]
    options = []
    if model.get("reliability"):
        options.append("--reliability " + ",".join(model["reliability"]))
    if model.get("modality_dropout"):
        options.append(f"--modality-dropout {model['modality_dropout']}")
    if data.get("ood_audio"):
        options.append("--ood-audio")
    if "cross-fitted" in str(data.get("speech_outputs", "")):
        options.append("--oof-speech")
    source = config["calibration"]["source"]
    if source.startswith("given") and "OOD cross-validation in" in source:
        options.append("--temperature ood")  # read from the first --ood-results
    elif source.startswith("given"):
        options.append(f"--temperature {config['temperature']}")
    val = len(data.get("val_speakers") or [])
    options.append("--val-fraction 0.2" if val else "--val-fraction 0")
    for run in config["metrics"].get("ood", []):
        options.append(f"--ood-results {run['source']}")
    return " \\\n  ".join([*parts, " ".join(options)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "emorl/models/iemonet-4class")
    parser.add_argument("--bench", type=Path, default=None)
    args = parser.parse_args()
    config = json.loads((args.model / "config.json").read_text())
    data, model, metrics = config["data"], config["model"], config["metrics"]
    ser_name = config["parts"]["ser"]["name"]
    lines = [
        "---",
        "license: other",
        "license_name: derived from RAVDESS (CC BY-NC-SA 4.0), MELD (GPL-3.0) and DailyDialog "
        "(CC BY-NC-SA 4.0)",
        "library_name: emorl",
        "language: en",
        "pipeline_tag: audio-classification",
        "tags: [emotion-recognition, multimodal, iemonet]",
        "datasets: [ravdess, meld, dailydialog]",
        "metrics: [accuracy, unweighted_accuracy, macro_f1]",
        "---",
        "",
        f"# {args.model.name}",
        "",
        "An IEmoNet of emorl: four classes (`neutral`, `happy`, `sad`, `angry`), the shipped",
        f"TER `{config['parts']['ter']['name']}` and SER `{ser_name}` frozen, a "
        f"{model['kind']} fusion block, and the packaged Whisper tiny.en as ASR.",
        *(
            [
                "`IEmoNet.from_pretrained()` loads it (the default) offline; `emorl recognize "
                "FILE.wav --json` runs it."
            ]
            if args.model.name == "iemonet-4class"
            else [
                f'`IEmoNet.from_pretrained(ser="{ser_name}")` loads it offline; `emorl '
                f"recognize FILE.wav --ser {ser_name} --json` (or `emorl demo --ser "
                f"{ser_name}`) runs it."
            ]
        ),
        "",
        "## What is in this folder",
        f"- `model.safetensors`: the fusion block only ({model['hidden_size']} hidden units, "
        f"dropout {model['dropout']}).",
        "- `config.json`: block config, label map, temperature, data, metrics, and the TER and",
        "  SER by name with the SHA-256 of their weights "
        f"({config['parts']['ter']['sha256'][:12]}..., "
        f"{config['parts']['ser']['sha256'][:12]}...):",
        "  other weights are refused; retrain the block for them (`emorl train fusion --ser ...`).",
        "",
        "## The block knows when a branch is out of its depth",
    ]
    reliability = model.get("reliability") or []
    if reliability or model.get("modality_dropout"):
        lines += [
            f"- Reliability inputs: each branch's {', '.join(reliability) or 'none'} (entropy "
            "divided by log 4), beside the penultimate features.",
            f"- Modality dropout {model.get('modality_dropout', 0)}: in training one branch of "
            "an example is zeroed at that rate, with a presence indicator, so the block learns "
            "to lean on the other.",
        ]
    else:
        lines.append("- Neither reliability inputs nor modality dropout (the paper's block).")
    lines += [
        "",
        "## Training data: label-paired, plus out-of-domain audio",
        "No corpus here pairs real emotional speech with meaningful transcripts. Each RAVDESS",
        "clip (actors 1-20) is joined with a MELD dev or DailyDialog validation utterance of",
        "the same label (texts the TER never trained on); speakers and dialogues are dealt into",
        f"{data['groups']} aligned groups. {data['n']} pairs ("
        + ", ".join(f"{k} {v}" for k, v in data["counts"].items())
        + f"); {data['speakers']} speakers, {data['dialogues']} dialogues.",
    ]
    if data.get("conditions"):
        lines += [
            "",
            "| condition | clips | speakers / voices |",
            "|---|---:|---:|",
            *[f"| {name} | {c['n']} | {c['holders']} |" for name, c in data["conditions"].items()],
            "",
            "`augmented`: a random chain of speed, pitch, room, noise and gain",
            "(`emorl.recognizers.speech.augment`); `espeak`: the paired text spoken by one of",
            "the simulator's espeak-ng callers with a random emotion's prosody (TTS carries no",
            "real emotion: the label is the text's).",
        ]
    lines += [
        "",
        f"Speech outputs for training: {data.get('speech_outputs', 'from the SER itself')}.",
        *(
            []
            if "cross-fitted" in str(data.get("speech_outputs", ""))
            else [
                "This SER heard every RAVDESS actor, so the block's RAVDESS rows are in-sample",
                "(its espeak-ng rows are not); the cross-validation below measures the recipe",
                "with SERs that never heard the clips the block trains on.",
            ]
        ),
        "",
        "## Training",
        f"{config['training']['epochs']} epochs, Adam {config['training']['learning_rate']}, "
        f"batch {config['training']['batch_size']}, class-weighted cross-entropy; TER and SER "
        "frozen. Temperature "
        f"{config['temperature']:.3f} ({config['calibration']['source']}).",
        "",
        "```bash",
        train_command(config, args.model),
        "```",
        "",
    ]
    if "validation" in metrics:
        v = metrics["validation"]
        lines += [
            f"Validation ({len(v['speakers'])} held-out speakers/voices, n = {v['n']}): "
            f"WA {v['accuracy']:.3f}, UA {v['ua']:.3f}, macro-F1 {v['macro_f1']:.3f}.",
            "",
        ]
    for run in metrics.get("ood", []):
        protocol = run.get("protocol") or {}
        speech = run.get("speech") or {}
        backend = "whisper" if str(speech.get("backend", "")).startswith("whisper") else "is09"
        epochs = (speech.get("training") or {}).get("epochs")
        lines += [
            f"## Out-of-domain cross-validation ({speech.get('backend', '?')} SER)",
            f"From `{run['source']}`. {protocol.get('folds')} speaker-, voice- and "
            "dialogue-exclusive folds; speech outputs: "
            f"{protocol.get('speech')}. Mean ± std over folds x runs.",
            "",
            "```bash",
            f"emorl evaluate fusion --ood --groups {protocol.get('folds')} "
            f"--seeds {len(run.get('seeds') or [0, 1, 2])} --speech-backend {backend}"
            + (f" --ser-epochs {epochs}" if backend == "is09" and epochs else "")
            + f" \\\n  --out {Path(run['source']).parent} {DATA_ARGS}",
            "```",
            "",
        ]
        for metric, name in (("ua", "UA"), ("accuracy", "WA"), ("macro_f1", "macro-F1")):
            lines += [f"**{name}**", "", *ood_table(run, metric), ""]
    if "cross_validation" in metrics:
        lines += [
            "## Label-paired cross-validation (the paper's blocks)",
            f"From `{metrics['cross_validation']['source']}`.",
            "",
            *cv_table(metrics["cross_validation"]),
            "",
        ]
    if args.bench is not None and args.bench.is_file():
        bench = json.loads(args.bench.read_text())
        stages = bench["latency"]["stages"]
        lines += [
            f"## Speed (`{args.bench}`)",
            "",
            "| stage | p50 ms | p95 ms |",
            "|---|---:|---:|",
            *[f"| {s} | {v['p50_ms']} | {v['p95_ms']} |" for s, v in stages.items()],
            "",
        ]
    lines += [
        "## Limitations",
        "- Label-paired, acted data: real conversations link words and voice; expect other",
        "  (likely lower) fused accuracy on natural speech (`emorl experiment iemocap`).",
        "- TTS voices and augmentations stand in for out-of-domain speech: a real caller on a",
        "  real line differs again.",
        "- The SER normalises each speaker with that speaker's statistics: adapt a new one",
        "  (`model.ser.adapt_speaker(name, clips)`, then `predict(..., speaker=name)`).",
        "- Text-only calls return the TER's posteriors, audio-only calls the SER's.",
    ]
    (args.model / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.model / 'README.md'}")


if __name__ == "__main__":
    main()
