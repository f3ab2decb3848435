"""The Whisper SER's model card, rendered from its ``config.json`` (no figure by hand)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["train_command", "whisper_ser_card"]

CONDITION_NAMES = {
    "clean": "clean test clips",
    "noise": "pink noise, 10 dB SNR",
    "reverb": "synthetic room, RT60 0.6 s",
    "speed": "speed x0.9",
    "telephone": "telephone band (300-3400 Hz, 8 kHz, mu-law)",
}


def _fmt(entry: Mapping[str, float]) -> str:
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def train_command(config: Mapping[str, Any], out: str) -> str:
    """The ``emorl train ser`` command that rebuilds a model with this config."""
    features = config.get("features", {})
    head = config.get("head", {})
    training = config.get("training", {})
    crossval = config.get("metrics", {}).get("crossval", {})
    data = training.get("data", {})
    parts = [
        "emorl train ser --backend whisper --corpus ravdess",
        f"--data {data.get('path') or 'ravdess'}",
        f"--whisper-model {config.get('model', 'tiny.en')}",
        f"--head {head.get('kind', 'logreg')}",
        f"--feature-mode {features.get('mode', 'padded')}",
    ]
    loud = features.get("loudness_db")
    parts.append("--loudness none" if loud is None else f"--loudness {loud:g}")
    if head.get("kind") == "attention" and head.get("epochs") is not None:
        parts.append(f"--head-epochs {head['epochs']}")
    augmentation = training.get("augmentation")
    if augmentation:
        parts.append(f"--augment {augmentation.get('copies', 1)}")
    conditions = [c for c in crossval.get("conditions", {}) if c != "clean"]
    degrade = [c for c in conditions if not c.startswith("adapt_k")]
    adapt = [c.removeprefix("adapt_k") for c in conditions if c.startswith("adapt_k")]
    if degrade:
        parts.append(f"--degrade {','.join(degrade)}")
    if adapt:
        parts.append(f"--adapt-clips {','.join(adapt)}")
    from emorl.recognizers.speech.whisper import ADAPT_PRIOR_CLIPS

    prior = config.get("adapt_prior")
    default = 0.0 if head.get("kind") == "attention" else ADAPT_PRIOR_CLIPS
    if prior is not None and prior != default:
        parts.append(f"--adapt-prior {prior:g}")
    if crossval:
        parts.append(f"--cv-folds {crossval.get('folds', 5)}")
    parts.append(f"--seed {config.get('seed', 0)} --out {out}")
    return " \\\n    ".join(parts)


def _head_text(head: Mapping[str, Any], pooled: bool) -> str:
    if head.get("kind") == "attention":
        return (
            "additive attention over the per-speaker normalised frame states "
            f"(dimension {head.get('attention_dim')}) -> dense {head.get('hidden_size')} "
            f"(ReLU, dropout {head.get('dropout')}; input dropout {head.get('input_dropout')}) "
            f"-> softmax; class-weighted cross-entropy, Adam {head.get('learning_rate')} "
            f"(weight decay {head.get('weight_decay')}), batch {head.get('batch_size')}, "
            f"a fixed {head.get('epochs')} epochs"
        )
    c = head.get("C")
    return (
        "mean and standard deviation of the states over time, z-normalised per speaker -> "
        f"class-balanced logistic regression (C = {c}, chosen from {head.get('c_grid')} by a "
        "speaker-exclusive inner 4-fold CV on the training actors)"
        if pooled
        else "logistic regression"
    )


def whisper_ser_card(config: Mapping[str, Any], name: str, *, has_confusion: bool = False) -> str:
    """Markdown model card of a saved :class:`emorl.recognizers.speech.whisper.WhisperSER`."""
    features = config.get("features", {})
    head = config.get("head", {})
    training = config.get("training", {})
    metrics = config.get("metrics", {})
    crossval = metrics.get("crossval", {})
    labels = config.get("labels", [])
    counts = training.get("train_counts", {})
    loud = features.get("loudness_db")
    mode = features.get("mode")
    mode_text = (
        "the clip's log-mel zero-padded to Whisper's 30 s window and encoded, the states of "
        "the clip's own frames kept (first ceil(frames / 2) rows): the very encoder pass the "
        "ASR decodes from, so inside IEmoNet one pass serves ASR and SER"
        if mode == "padded"
        else "the clip's own frames encoded without padding"
    )
    lines = [
        "---",
        "license: cc-by-nc-sa-4.0",
        "library_name: emorl",
        "language: en",
        "pipeline_tag: audio-classification",
        "tags:",
        "  - emotion-recognition",
        "  - speech-emotion-recognition",
        "  - whisper",
        "datasets:",
        "  - ravdess",
        "metrics:",
        "  - accuracy",
        "  - unweighted_accuracy",
        "  - macro_f1",
        "---",
        "",
        f"# {name}",
        "",
        f"{len(labels)}-class speech emotion recognizer ({', '.join(f'`{x}`' for x in labels)}) "
        f"on the encoder states of Whisper {config.get('model')} (CTranslate2, int8), shipped "
        f"with emorl {config.get('emorl_version')}. Load it with "
        "`WhisperSER.from_pretrained()`; use it as IEmoNet's SER with "
        f"`IEmoNet.from_parts(ser='{name}', ...)` or `--ser {name}`. This card is written "
        "from `config.json` by `emorl.recognizers.speech.card.whisper_ser_card`.",
        "",
        "## Model",
        f"- Encoder: Whisper {config.get('model')} (the ASR's default model; fingerprint "
        f"`{str(config.get('model_fingerprint'))[:16]}`, checked when features are computed).",
        f"- Features ({mode}): {mode_text}.",
        "- Loudness: "
        + (
            f"each clip is first scaled to {loud:g} dB gated level (BS.1770 gating without "
            "K-weighting), at training and at inference."
            if loud is not None
            else "none (the clip as it is)."
        ),
        f"- Head: {_head_text(head, config.get('pooling') == 'mean+std')}.",
        "- Normalisation: per speaker (z-score over that speaker's "
        + ("frames" if config.get("normalizer_level") == "frames" else "pooled vectors")
        + "). The statistics of the training actors are stored; a new speaker is normalised "
        "with statistics from their own unlabelled clips (`adapt_speaker`, or every clip of "
        "a speaker in evaluation)"
        + (
            f", shrunk towards the training statistics by {config['adapt_prior']:g} "
            f"pseudo-clip{'' if config['adapt_prior'] == 1 else 's'} (so that one or two "
            "clips do not normalise to zeros or noise)"
            if config.get("adapt_prior")
            else ""
        )
        + "; without them the global training statistics are used, with a warning.",
        "- Files: `model.safetensors` (head weights and normaliser statistics, float32; no "
        "frame data), `config.json` (everything on this card).",
        "",
        "## Training data",
        f"RAVDESS speech, {len(training.get('speakers', []))} actors "
        f"({', '.join(training.get('speakers', [])[:1])} ... "
        f"{', '.join(training.get('speakers', [])[-1:])}; actors 21-24 are held out by the data "
        "provider), 16 kHz FLAC. Neutral and calm -> `neutral`; fearful, disgust and "
        "surprised left out. Counts: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f" ({sum(counts.values())} clips). Licence of the recordings: CC BY-NC-SA 4.0.",
        "",
    ]
    augmentation = training.get("augmentation")
    lines += ["## Procedure"]
    if augmentation:
        lines += [
            f"Augmentation: {augmentation.get('copies')} augmented copies of every training "
            "clip join the clean clips. Each copy applies, each with its probability: speed "
            f"x{augmentation['speed_range'][0]}-{augmentation['speed_range'][1]} "
            f"(p {augmentation['speed_p']}), pitch ±{augmentation['pitch_semitones']} "
            f"semitones (p {augmentation['pitch_p']}), a synthetic room RT60 "
            f"{augmentation['rt60_range'][0]}-{augmentation['rt60_range'][1]} s "
            f"(p {augmentation['reverb_p']}), white/pink/brown noise at "
            f"{augmentation['snr_range'][0]:g}-{augmentation['snr_range'][1]:g} dB SNR "
            f"(p {augmentation['noise_p']}), gain ±{augmentation['gain_db']:g} dB "
            f"(p {augmentation['gain_p']}); seeded per clip and copy.",
            "",
        ]
    else:
        lines += ["No augmentation.", ""]
    lines += [
        f"Seed {config.get('seed', 0)}. Training on all actors took "
        f"{training.get('seconds', '?')} s on {training.get('threads', '?')} threads "
        f"(encoder states computed or read from the feature cache; "
        f"{training.get('total_seconds', '?')} s with the cross-validation). Rebuild:",
        "",
        "```bash",
        train_command(config, name),
        "```",
        "",
    ]
    if crossval:
        conditions = crossval.get("conditions", {})
        lines += [
            "## Metrics: the same recipe under speaker-exclusive cross-validation",
            f"{crossval.get('folds')} folds exclusive by actor "
            f"({crossval.get('clips')} clips, {crossval.get('speakers')} actors; stratified "
            f"split, seed {crossval.get('protocol', {}).get('split_seed', 0)}), one model per "
            "fold trained on the other folds' actors, mean ± std (ddof = 1) over folds. Each "
            "test actor is normalised with statistics of their own test clips (labels unused), "
            "in the condition tested. Degraded conditions: the test clips only (training "
            "unchanged).",
            "",
            "| test condition | WA | UA | macro-F1 |",
            "|---|---|---|---|",
        ]
        for key, row in conditions.items():
            label = CONDITION_NAMES.get(key) or (
                f"speaker statistics from {key.removeprefix('adapt_k')} unlabelled "
                + ("clip" if key == "adapt_k1" else "clips")
                if key.startswith("adapt_k")
                else key
            )
            lines.append(
                f"| {label} | {_fmt(row['accuracy'])} | {_fmt(row['ua'])} | "
                f"{_fmt(row['macro_f1'])} |"
            )
        lines += [
            "",
            "Per fold (clean):",
            "",
            "| fold | test actors | WA | UA |",
            "|---|---|---|---|",
        ]
        for i, fold in enumerate(crossval.get("fold_details", []), 1):
            actors = " ".join(s.removeprefix("ravdess_") for s in fold.get("test_speakers", []))
            lines.append(f"| {i} | {actors} | {fold['wa']:.3f} | {fold['ua']:.3f} |")
        confusion = crossval.get("confusion")
        if confusion:
            lines += [
                "",
                f"Confusion over the folds (rows true, columns predicted; {', '.join(labels)}): "
                f"`{confusion}`.",
            ]
        if has_confusion:
            lines += ["", "![confusion over the folds](confusion_crossval.png)"]
        lines.append("")
    lines += [
        "## Limitations",
        "- Acted speech: 20 actors reading two fixed sentences in a studio. Expect lower "
        "accuracy on spontaneous, telephone or noisy speech and on other corpora or "
        "languages; cross-corpus use needs the per-speaker statistics (a few clips of each "
        "new speaker).",
        "- No speech, no emotion: inside IEmoNet, the Silero voice-activity check runs first "
        "and a clip without speech gets no SER posterior.",
        "- The features depend on the exact Whisper model and feature settings: another "
        "model (fingerprint) or another mode / loudness is refused.",
        "",
        "## Licence",
        "Derived from RAVDESS (Livingstone & Russo 2018), CC BY-NC-SA 4.0: non-commercial "
        "use, share alike, attribute the RAVDESS authors.",
        "",
    ]
    return "\n".join(_wrap(lines))


def _wrap(lines: list[str], width: int = 92) -> list[str]:
    """Prose lines and bullets wrapped at ``width``; tables, code and front matter as is."""
    import textwrap

    out: list[str] = []
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        keep = fenced or not line or line[0] in "|#!`-" and not line.startswith("- ")
        if keep or len(line) <= width or line.startswith("  "):
            out.append(line)
            continue
        indent = "  " if line.startswith("- ") else ""
        out += textwrap.wrap(
            line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
        )
    return out
