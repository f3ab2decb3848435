"""Jobs on the label-paired bimodal set (RAVDESS clips + MELD dev / DailyDialog validation
texts): the speaker- and dialogue-exclusive experiment, training and evaluating a fusion block.

Protocol of the experiment (``run_paired_experiment``): speakers and text dialogues are
dealt into ``folds`` aligned groups. Per fold, the SER is retrained from scratch on the
training speakers with the library's default recipe (the shipped SER has heard every
RAVDESS actor, so it cannot be scored on them); a share of the training speakers is held
out from all training to fit the temperature. The TER is the shipped one, frozen: its
training data was MELD train + DailyDialog train, and only MELD dev / DailyDialog
validation texts are paired here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import data_reference
from emorl.data import load_corpus
from emorl.data.paired import PairedSet, pair_by_label
from emorl.evaluation import classification_report, expected_calibration_error
from emorl.progress import task_progress
from emorl.recognizers.bimodal_experiment import (
    BimodalSet,
    ExperimentConfig,
    ExperimentResult,
    noisy_texts,
    run_fold,
    save_experiment,
)
from emorl.recognizers.calibration import fit_temperature
from emorl.recognizers.fusion import FusionBlock, FusionConfig
from emorl.recognizers.fusion_features import fusion_inputs, speech_outputs
from emorl.recognizers.fusion_training import FusionTrainingConfig, train_fusion
from emorl.recognizers.iemonet import IEmoNet
from emorl.recognizers.ser import SERConfig, SpeechEmotionRecognizer
from emorl.recognizers.ser_workflow import default_cache_dir
from emorl.recognizers.speech_features import SpeechFeatureExtractor
from emorl.recognizers.ter import TextEmotionRecognizer


@dataclass
class PairedSources:
    """Where the label-paired set comes from."""

    speech: Path
    texts: list[tuple[str, Path]] = field(default_factory=list)
    speech_corpus: str = "ravdess"
    groups: int = 2
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "speech": data_reference(self.speech_corpus, self.speech),
            "texts": [data_reference(n, p) for n, p in self.texts],
            "groups": self.groups,
            "pairing_seed": self.seed,
        }


def build_paired(sources: PairedSources) -> PairedSet:
    """Read the corpora (four classes) and pair them by label."""
    if not sources.texts:
        raise ValueError("the label-paired set needs at least one text corpus")
    speech = load_corpus(sources.speech_corpus, sources.speech)
    texts = [load_corpus(name, path) for name, path in sources.texts]
    return pair_by_label(speech, texts, groups=sources.groups, seed=sources.seed)


def bimodal_from_paired(
    paired: PairedSet,
    ser_config: SERConfig,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> BimodalSet:
    """IS09 frames (cached) of every paired clip, with texts, labels, speakers and groups."""
    extractor = SpeechFeatureExtractor(
        ser_config.feature_config(), cache_dir=cache_dir or default_cache_dir()
    )
    index = {label: i for i, label in enumerate(paired.labels)}
    sequences = []
    with task_progress(progress) as bar:
        task = bar.add_task("IS09 frames", total=len(paired))
        for item in paired.items:
            sequences.append(extractor.frames_file(item.audio_path))
            bar.advance(task)
    return BimodalSet(
        paired.labels,
        [i.id for i in paired.items],
        [i.text for i in paired.items],
        sequences,
        [index[i.label] for i in paired.items],
        [i.speaker for i in paired.items],
        [i.group for i in paired.items],
    )


@dataclass
class PairedExperimentJob:
    """Everything ``emorl evaluate fusion --cv`` on the label-paired set needs."""

    sources: PairedSources
    out: Path
    ter: Path | None = None
    config: ExperimentConfig = field(
        default_factory=lambda: ExperimentConfig(
            ter_training=None, transcripts=("provided", "noisy")
        )
    )
    cache_dir: Path | None = None
    progress: bool = True


def run_paired_experiment(job: PairedExperimentJob) -> dict[str, Any]:
    """Speaker- and dialogue-exclusive folds; returns the summary written to ``job.out``."""
    begun = time.perf_counter()
    paired = build_paired(job.sources)
    data = bimodal_from_paired(
        paired, job.config.ser_model, cache_dir=job.cache_dir, progress=job.progress
    )
    ter = TextEmotionRecognizer.from_pretrained(job.ter)
    if ter.labels != data.labels:
        raise ValueError(f"the TER predicts {ter.labels}, the paired set has {data.labels}")
    result = ExperimentResult(data.labels)
    groups = np.asarray(data.groups)
    for fold in range(paired.groups):
        train = data.subset(np.flatnonzero(groups != fold))
        test = data.subset(np.flatnonzero(groups == fold))
        run_fold(fold, train, test, job.config, result, ter=ter, progress=job.progress)
    extra = {
        "protocol": {
            "folds": paired.groups,
            "split": "speaker- and dialogue-exclusive (aligned groups)",
            "ser": "retrained per fold on the training speakers (default recipe)",
            "ter": "shipped, frozen; texts only from MELD dev / DailyDialog validation",
            "temperature": f"fitted on {job.config.val_fraction:.0%} of training speakers, "
            "held out from all training",
            "seeds": list(job.config.seeds),
            "wer": job.config.wer,
        },
        "data": {**job.sources.describe(), **paired.describe()},
        "ter": {"folder": str(job.ter or "shipped"), "labels": list(ter.labels)},
        "config": job.config.to_dict(),
        "seconds": round(time.perf_counter() - begun, 1),
    }
    return save_experiment(result, job.out, "Label-paired RAVDESS + dialogue text", extra)


@dataclass
class FusionTrainJob:
    """Everything ``emorl train fusion`` needs: frozen parts, data, block and recipe."""

    sources: PairedSources
    out: Path
    ter: Path | None = None
    ser: Path | None = None
    fusion: FusionConfig = field(default_factory=FusionConfig)
    training: FusionTrainingConfig = field(default_factory=FusionTrainingConfig)
    val_fraction: float = 0.2
    temperature: float | None = None
    temperature_note: str = ""
    cv_results: Path | None = None
    transcripts: str = "provided"
    wer: float = 0.06
    cache_dir: Path | None = None
    progress: bool = True


def _features(ter, ser, data: BimodalSet, states: bool):
    speech, frame_states = speech_outputs(ser, data.sequences, data.speakers, states=states)
    return fusion_inputs(ter.features(data.texts), speech, frame_states)


def run_train_fusion(job: FusionTrainJob) -> dict[str, Any]:
    """Train a fusion block on frozen TER/SER features; save it as an IEmoNet folder.

    ``val_fraction`` of the speakers is held out from training to fit the temperature
    (unless ``temperature`` is given) and to report validation WA/UA/ECE.
    """
    from emorl.evaluation import group_holdout

    ter = TextEmotionRecognizer.from_pretrained(job.ter)
    ser = SpeechEmotionRecognizer.from_pretrained(job.ser)
    paired = build_paired(job.sources)
    data = bimodal_from_paired(paired, ser.config, cache_dir=job.cache_dir, progress=job.progress)
    if job.transcripts == "noisy":
        data = data.with_texts(noisy_texts(data.texts, data.ids, job.wer, seed=0))
    if job.val_fraction > 0:
        fit_idx, val_idx = group_holdout(data.speakers, job.val_fraction, seed=job.training.seed)
    else:
        fit_idx, val_idx = np.arange(len(data)), np.zeros(0, dtype=int)
    fit, val = data.subset(fit_idx), data.subset(val_idx)
    config = FusionConfig(
        **{
            **asdict(job.fusion),
            "labels": data.labels,
            "text_size": ter.config.hidden_size,
            "speech_size": ser.net.config.feature_size,
            "state_size": 2 * ser.config.lstm_units,
        }
    )
    block = FusionBlock.create(config, seed=job.training.seed)
    states = block.needs_states
    result = train_fusion(
        block, _features(ter, ser, fit, states), fit.y, job.training, progress=job.progress
    )
    metrics: dict[str, Any] = {}
    if len(val):
        logits = block.logits(_features(ter, ser, val, states))
        report = classification_report(np.asarray(val.y), logits.argmax(1), data.labels)
        calibration = fit_temperature(logits, val.y)
        metrics["validation"] = {
            "accuracy": report.accuracy,
            "ua": report.ua,
            "macro_f1": report.macro_f1,
            "n": report.n,
            "speakers": sorted(set(val.speakers)),
            "calibration": calibration.to_dict(),
        }
        block.temperature = calibration.temperature
    if job.temperature is not None:
        block.temperature = float(job.temperature)
    if job.cv_results is not None:
        metrics["cross_validation"] = _cv_metrics(job.cv_results)
    model = IEmoNet.from_parts(
        ter=job.ter or _default("ter"), ser=job.ser or _default("ser"), fusion=block
    )
    metadata = {
        "training": {
            **asdict(job.training),
            "seconds": round(result.seconds, 1),
            "history": result.history,
        },
        "data": {
            **job.sources.describe(),
            **paired.describe(),
            "transcripts": job.transcripts,
            "wer": job.wer if job.transcripts == "noisy" else 0.0,
            "fit_speakers": sorted(set(fit.speakers)),
            "val_speakers": sorted(set(val.speakers)),
        },
        "calibration": {
            "temperature": block.temperature,
            "source": (
                f"given{': ' + job.temperature_note if job.temperature_note else ''}"
                if job.temperature is not None
                else "fitted on the validation speakers"
            ),
        },
        "metrics": metrics,
    }
    model.save_pretrained(job.out, **metadata)
    return metadata


def _cv_metrics(path: Path) -> dict[str, Any]:
    """WA/UA/macro-F1 means and stds, protocol and calibration of a paired CV run."""
    import json

    saved = json.loads(Path(path).read_text(encoding="utf-8"))
    systems = {
        system: {
            condition: {m: run[m] for m in ("accuracy", "ua", "macro_f1")}
            for condition, run in conditions.items()
        }
        for system, conditions in saved["systems"].items()
    }
    return {
        "source": str(path),
        "protocol": saved.get("protocol"),
        "systems": systems,
        "calibration": saved.get("calibration_mean"),
    }


def _default(what: str) -> Path:
    from emorl.recognizers.ser import DEFAULT_SER_DIR
    from emorl.recognizers.ter import DEFAULT_TER_DIR

    return DEFAULT_TER_DIR if what == "ter" else DEFAULT_SER_DIR


def run_evaluate_fusion(
    model: IEmoNet,
    data: BimodalSet,
    *,
    transcripts: str = "provided",
    wer: float = 0.06,
    confusion_png: Path | None = None,
) -> dict[str, Any]:
    """WA/UA/macro-F1 and ECE of the fused posteriors; unseen speakers self-normalised."""
    if transcripts == "noisy":
        data = data.with_texts(noisy_texts(data.texts, data.ids, wer, seed=0))
    speech, states = speech_outputs(
        model.ser, data.sequences, data.speakers, states=model.fusion.needs_states
    )
    inputs = fusion_inputs(model.ter.features(data.texts), speech, states)
    probs = model.fusion.probabilities(inputs)
    raw = model.fusion.probabilities(inputs, calibrated=False)
    y = np.asarray(data.y)
    report = classification_report(y, probs.argmax(1), model.labels)
    if confusion_png is not None:
        from emorl.evaluation import plot_confusion_matrix

        plot_confusion_matrix(report.confusion, model.labels, confusion_png, title="IEmoNet")
    out = report.to_dict()
    out.update(
        ece=expected_calibration_error(probs, y),
        ece_uncalibrated=expected_calibration_error(raw, y),
        temperature=model.fusion.temperature,
        transcripts=transcripts,
    )
    return out
