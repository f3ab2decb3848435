"""The paper's experiment, per fold: train (or reuse) TER and SER, train fusion blocks on
their frozen features, optionally fine-tune jointly, and score everything on the fold.

Shared by the IEMOCAP runner and the label-paired RAVDESS experiment. Per fold, a share
of the training speakers (``val_fraction``) is held out from every training step; the
fusion block's temperature is fitted on them, and the test fold's expected calibration
error is reported before and after.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import write_json
from emorl.evaluation import (
    CVResult,
    CVRun,
    classification_report,
    expected_calibration_error,
    group_holdout,
    plot_confusion_matrix,
)
from emorl.progress import task_progress
from emorl.recognizers.calibration import fit_temperature
from emorl.recognizers.fusion.features import (
    fusion_inputs,
    head_probabilities,
    ser_probabilities,
    speech_outputs,
)
from emorl.recognizers.fusion.model import FusionBlock, FusionConfig, softmax
from emorl.recognizers.fusion.training import (
    FusionTrainingConfig,
    JointTrainingConfig,
    finetune_jointly,
    train_fusion,
)
from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
from emorl.recognizers.speech.training import SERTrainingConfig, predict_frames, train_ser
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer
from emorl.recognizers.text.training import TERTrainingConfig, train_ter

SYSTEM_NAMES = {
    "ser": "SER alone",
    "ter": "TER alone",
    "fusion_feedforward": "Fusion, feed-forward (paper)",
    "fusion_attention": "Fusion, attention",
    "joint_feedforward": "Fusion, feed-forward, then joint fine-tuning",
}


@dataclass
class BimodalSet:
    """Utterances with transcript, IS09 frames, label index, speaker and split group."""

    labels: tuple[str, ...]
    ids: list[str]
    texts: list[str]
    sequences: list[np.ndarray]
    y: list[int]
    speakers: list[str]
    groups: list[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: Sequence[int]) -> BimodalSet:
        pick = [int(i) for i in index]
        return BimodalSet(
            self.labels,
            [self.ids[i] for i in pick],
            [self.texts[i] for i in pick],
            [self.sequences[i] for i in pick],
            [self.y[i] for i in pick],
            [self.speakers[i] for i in pick],
            [self.groups[i] for i in pick] if self.groups is not None else None,
        )

    def with_texts(self, texts: list[str]) -> BimodalSet:
        return BimodalSet(
            self.labels, self.ids, texts, self.sequences, self.y, self.speakers, self.groups
        )


@dataclass
class ExperimentConfig:
    """What is trained per fold and how.

    ``ter_training=None`` keeps the given TER frozen (it is never trained on the folds);
    ``retrain_per_seed`` retrains TER and SER for every seed (else once per fold, and the
    seeds vary the fusion block only). ``joint=None`` skips joint fine-tuning.
    """

    ser_model: SERConfig = field(default_factory=SERConfig)
    ser_training: SERTrainingConfig = field(default_factory=SERTrainingConfig)
    ter_model: TERConfig = field(default_factory=TERConfig)
    ter_training: TERTrainingConfig | None = field(default_factory=TERTrainingConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    fusion_training: FusionTrainingConfig = field(default_factory=FusionTrainingConfig)
    kinds: tuple[str, ...] = ("feedforward", "attention")
    joint: JointTrainingConfig | None = field(default_factory=JointTrainingConfig)
    seeds: tuple[int, ...] = (0, 1, 2)
    retrain_per_seed: bool = False
    val_fraction: float = 0.2
    transcripts: tuple[str, ...] = ("provided",)
    wer: float = 0.06

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("ser_model", "ter_model", "fusion"):
            out[key]["labels"] = list(out[key]["labels"])
        return out


@dataclass
class ExperimentResult:
    """Every run's report per (system, transcript condition), and calibration records."""

    labels: tuple[str, ...]
    runs: dict[str, dict[str, CVResult]] = field(default_factory=dict)
    calibration: list[dict[str, Any]] = field(default_factory=list)

    def add(self, system: str, condition: str, fold: int, seed: int, y, pred) -> None:
        table = self.runs.setdefault(system, {})
        result = table.setdefault(condition, CVResult(self.labels))
        report = classification_report(np.asarray(y), np.asarray(pred), self.labels)
        result.runs.append(CVRun(fold=fold, seed=seed, report=report))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": list(self.labels), "systems": {}}
        for system, conditions in self.runs.items():
            out["systems"][system] = {c: r.summary() for c, r in conditions.items()}
        if self.calibration:
            out["calibration"] = self.calibration
            out["calibration_mean"] = calibration_means(self.calibration)
        return out


def calibration_means(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean temperature and ECEs per (fusion kind, condition)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(f"{record['kind']}/{record['condition']}", []).append(record)
    keys = ("temperature", "val_ece_before", "val_ece_after", "test_ece_before", "test_ece_after")
    return {
        name: {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}
        for name, rows in grouped.items()
    }


def noisy_texts(texts: Sequence[str], ids: Sequence[str], wer: float, seed: int) -> list[str]:
    """Transcripts with simulated recognition errors at ``wer`` (deterministic per id)."""
    from emorl.asr import TranscriptNoise

    noise = TranscriptNoise(wer=wer, seed=seed)
    return [noise(text, key) for text, key in zip(texts, ids, strict=True)]


def _train_ser(config: ExperimentConfig, data: BimodalSet, seed: int) -> SpeechEmotionRecognizer:
    labels = data.labels
    model_config = SERConfig(**{**asdict(config.ser_model), "labels": labels})
    model = SpeechEmotionRecognizer.create(
        model_config, seed=seed, input_size=data.sequences[0].shape[1]
    )
    training = SERTrainingConfig(**{**asdict(config.ser_training), "seed": seed})
    train_ser(model, data.sequences, data.y, training, speakers=data.speakers, progress=False)
    return model


def _train_ter(config: ExperimentConfig, data: BimodalSet, seed: int) -> TextEmotionRecognizer:
    assert config.ter_training is not None
    ter_config = TERConfig(**{**asdict(config.ter_model), "labels": data.labels})
    model = TextEmotionRecognizer.create(ter_config, seed=seed)
    training = TERTrainingConfig(**{**asdict(config.ter_training), "seed": seed})
    train_ter(model, data.texts, data.y, training, progress=False)
    return model


def run_fold(
    fold: int,
    train: BimodalSet,
    test: BimodalSet,
    config: ExperimentConfig,
    result: ExperimentResult,
    *,
    ter: TextEmotionRecognizer | None = None,
    ser: SpeechEmotionRecognizer | None = None,
    progress: bool = True,
) -> None:
    """Train and score every system on one fold, adding the runs to ``result``."""
    if ter is None and config.ter_training is None:
        raise ValueError("a frozen TER must be given when ter_training is None")
    fit_idx, val_idx = group_holdout(train.speakers, config.val_fraction, seed=fold)
    fit, val = train.subset(fit_idx), train.subset(val_idx)
    variants = {}
    for condition in config.transcripts:
        variants[condition] = (
            tuple(
                part.with_texts(noisy_texts(part.texts, part.ids, config.wer, seed=fold))
                for part in (fit, val, test)
            )
            if condition == "noisy"
            else (fit, val, test)
        )
    work = len(config.seeds) * len(config.transcripts) * (len(config.kinds) + 2)
    with task_progress(progress) as bar:
        task = bar.add_task(f"fold {fold + 1}", total=work)
        sub: dict[str, Any] = {}
        for seed in config.seeds:
            retrain = config.retrain_per_seed or seed == config.seeds[0]
            if retrain:
                bar.update(task, description=f"fold {fold + 1}: SER seed {seed}")
                sub["ser"] = ser if ser is not None else _train_ser(config, fit, seed)
                sub["speech"] = {
                    name: speech_outputs(sub["ser"], part.sequences, part.speakers, states=True)
                    for name, part in (("fit", fit), ("val", val), ("test", test))
                }
                ser_probs = predict_frames(sub["ser"], test.sequences, test.speakers)
            for condition in config.transcripts:
                part_fit, part_val, part_test = variants[condition]
                result.add("ser", condition, fold, seed, test.y, ser_probs.argmax(1))
                key = f"ter_{condition}"
                if retrain or key not in sub:
                    bar.update(task, description=f"fold {fold + 1}: TER {condition} seed {seed}")
                    model = ter if ter is not None else _train_ter(config, part_fit, seed)
                    sub[key] = (
                        model,
                        {
                            n: model.features(p.texts)
                            for n, p in (("fit", part_fit), ("val", part_val), ("test", part_test))
                        },
                    )
                text_model, text = sub[key]
                ter_pred = text_model.probabilities(part_test.texts).argmax(1)
                result.add("ter", condition, fold, seed, test.y, ter_pred)
                bar.advance(task, 2)
                for kind in config.kinds:
                    bar.update(task, description=f"fold {fold + 1}: {kind} {condition} {seed}")
                    block = _fusion_run(
                        kind,
                        condition,
                        fold,
                        seed,
                        config,
                        result,
                        text,
                        sub["speech"],
                        fit.y,
                        val.y,
                        test.y,
                        text_model,
                        sub["ser"],
                    )
                    if kind == "feedforward" and config.joint is not None and condition != "noisy":
                        _joint_run(
                            fold,
                            seed,
                            condition,
                            config,
                            result,
                            block,
                            text_model,
                            sub["ser"],
                            part_fit,
                            part_test,
                        )
                    bar.advance(task)


def _inputs(text: dict[str, np.ndarray], speech: dict[str, Any], name: str, states: bool, ter, ser):
    feats, frame_states = speech[name]
    return fusion_inputs(
        text[name],
        feats,
        frame_states if states else None,
        text_probs=head_probabilities(ter.net.classifier, text[name]),
        speech_probs=ser_probabilities(ser, feats),
    )


def _fusion_run(
    kind, condition, fold, seed, config, result, text, speech, y_fit, y_val, y_test, ter, ser
) -> FusionBlock:
    states = kind == "attention"
    block_config = FusionConfig(
        **{
            **asdict(config.fusion),
            "labels": result.labels,
            "kind": kind,
            "text_size": ter.config.hidden_size,
            "speech_size": ser.net.config.feature_size,
            "state_size": 2 * ser.config.lstm_units,
        }
    )
    block = FusionBlock.create(block_config, seed=seed)
    training = FusionTrainingConfig(**{**asdict(config.fusion_training), "seed": seed})
    train_fusion(
        block, _inputs(text, speech, "fit", states, ter, ser), y_fit, training, progress=False
    )
    test_logits = block.logits(_inputs(text, speech, "test", states, ter, ser))
    result.add(f"fusion_{kind}", condition, fold, seed, y_test, test_logits.argmax(1))
    if len(y_val):
        calibration = fit_temperature(
            block.logits(_inputs(text, speech, "val", states, ter, ser)), y_val
        )
        block.temperature = calibration.temperature
        result.calibration.append(
            {
                "fold": fold,
                "seed": seed,
                "kind": kind,
                "condition": condition,
                "temperature": calibration.temperature,
                "val_ece_before": calibration.ece_before,
                "val_ece_after": calibration.ece_after,
                "test_ece_before": expected_calibration_error(softmax(test_logits), y_test),
                "test_ece_after": expected_calibration_error(
                    softmax(test_logits / calibration.temperature), y_test
                ),
            }
        )
    return block


def _joint_run(fold, seed, condition, config, result, block, ter, ser, fit, test) -> None:
    ter, ser, block = copy.deepcopy(ter), copy.deepcopy(ser), copy.deepcopy(block)
    training = JointTrainingConfig(**{**asdict(config.joint), "seed": seed})
    finetune_jointly(
        ter, ser, block, fit.texts, fit.sequences, fit.speakers, fit.y, training, progress=False
    )
    speech, _ = speech_outputs(ser, test.sequences, test.speakers)
    logits = block.logits(fusion_inputs(ter.features(test.texts), speech))
    result.add("joint_feedforward", condition, fold, seed, test.y, logits.argmax(1))


def markdown_table(result: ExperimentResult, title: str) -> str:
    """Rows per system, WA and UA (mean ± std over folds x seeds) per transcript condition."""
    conditions = sorted(
        {c for table in result.runs.values() for c in table}, key=lambda c: (c != "provided", c)
    )
    head = "| system | " + " | ".join(f"WA ({c}) | UA ({c})" for c in conditions) + " |"
    rule = "|---|" + "---:|---:|" * len(conditions)
    rows = [f"### {title}", "", head, rule]
    for system, name in SYSTEM_NAMES.items():
        if system not in result.runs:
            continue
        cells = []
        for condition in conditions:
            runs = result.runs[system].get(condition)
            cells += [runs.format("accuracy"), runs.format("ua")] if runs else ["-", "-"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def save_experiment(
    result: ExperimentResult, out: Path, title: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """``results.json``, ``results.md`` and one confusion PNG per system and condition."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {**extra, **result.summary()}
    write_json(out / "results.json", summary)
    (out / "results.md").write_text(markdown_table(result, title), encoding="utf-8")
    for system, conditions in result.runs.items():
        for condition, runs in conditions.items():
            plot_confusion_matrix(
                runs.confusion(),
                result.labels,
                out / f"confusion_{system}_{condition}.png",
                title=f"{SYSTEM_NAMES[system]} ({condition})",
            )
    return summary
