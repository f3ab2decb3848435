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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import data_reference
from emorl.data import load_corpus
from emorl.data.paired import PairedSet, pair_by_label
from emorl.evaluation import classification_report, expected_calibration_error
from emorl.paths import cache_root
from emorl.progress import task_progress
from emorl.recognizers.calibration import fit_temperature
from emorl.recognizers.experiments.bimodal import (
    BimodalSet,
    ExperimentConfig,
    ExperimentResult,
    noisy_texts,
    run_fold,
    save_experiment,
)
from emorl.recognizers.fusion.model import FusionBlock, FusionConfig
from emorl.recognizers.fusion.training import FusionTrainingConfig, train_fusion
from emorl.recognizers.iemonet import IEmoNet
from emorl.recognizers.speech.features import SpeechFeatureExtractor
from emorl.recognizers.speech.model import SERConfig
from emorl.recognizers.text.model import TextEmotionRecognizer


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
        ser_config.feature_config(), cache_dir=cache_dir or cache_root("features")
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
    """Everything ``emorl train fusion`` needs: frozen parts, data, block and recipe.

    ``ser``: an SER folder or shipped name, IS09 network or Whisper SER (default: the
    shipped IS09 SER). ``ood_audio`` adds, for every paired clip, an augmented copy and the
    text spoken by an espeak-ng caller (:mod:`emorl.recognizers.experiments.ood`) to the
    training data. ``oof_speech`` trains the block on speech posteriors that are out of fold
    (each group's from an SER of the same recipe trained on the other groups), for SERs
    whose features do not depend on their training (Whisper SER, logreg head).
    """

    sources: PairedSources
    out: Path
    ter: Path | None = None
    ser: str | Path | None = None
    fusion: FusionConfig = field(default_factory=FusionConfig)
    training: FusionTrainingConfig = field(default_factory=FusionTrainingConfig)
    val_fraction: float = 0.2
    temperature: float | None = None
    temperature_note: str = ""
    cv_results: Path | None = None
    ood_results: list[Path] = field(default_factory=list)
    transcripts: str = "provided"
    wer: float = 0.06
    ood_audio: bool = False
    oof_speech: bool = False
    tts_prosody: str = "random"
    audio_cache: Path | None = None
    cache_dir: Path | None = None
    progress: bool = True


def paired_outputs(
    ter: TextEmotionRecognizer,
    ser: Any,
    paired: PairedSet,
    *,
    ood_audio: bool = False,
    oof_speech: bool = False,
    states: bool = False,
    transcripts: str = "provided",
    wer: float = 0.06,
    tts_prosody: str = "random",
    audio_cache: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
):
    """TER and SER outputs of the paired set (plus augmented and espeak-ng variants with
    ``ood_audio``), every speaker (or voice) normalised on its own clips."""
    from emorl.recognizers.experiments.ood import (
        OODConfig,
        branch_outputs,
        build_ood_items,
        cross_fitted_outputs,
        default_audio_cache,
        fold_ser_for,
        text_table,
    )

    ood = OODConfig(
        degradations=(),
        augment_copies=1 if ood_audio else 0,
        espeak_voices=12 if ood_audio else 0,
        tts_prosody=tts_prosody,  # type: ignore[arg-type]
        piper=False,
    )
    items = build_ood_items(paired, ood, audio_cache or default_audio_cache(), progress=progress)
    if transcripts == "noisy":
        texts = noisy_texts([i.text for i in items], [i.id for i in items], wer, seed=0)
        items = [replace(i, text=t) for i, t in zip(items, texts, strict=True)]
    branch = fold_ser_for(ser, cache_dir=cache_dir, progress=progress)
    branch.prepare(items)
    table = text_table(ter, [i.text for i in items])
    if oof_speech:
        return cross_fitted_outputs(branch, items, paired.labels, table, states=states), ood
    return branch_outputs(branch, ser, items, table, states=states), ood


def run_train_fusion(job: FusionTrainJob) -> dict[str, Any]:
    """Train a fusion block on frozen TER/SER outputs; save it as an IEmoNet folder.

    ``val_fraction`` of the speakers (and voices) is held out from training to fit the
    temperature (unless ``temperature`` is given) and to report validation WA/UA/ECE.
    """
    from emorl.evaluation import group_holdout
    from emorl.recognizers.experiments.ood import describe_items, state_size
    from emorl.recognizers.speech.branch import load_ser, resolve_ser_folder, speech_branch

    ter = TextEmotionRecognizer.from_pretrained(job.ter)
    ser_dir = resolve_ser_folder(job.ser)
    ser = load_ser(ser_dir)
    paired = build_paired(job.sources)
    if tuple(ter.labels) != tuple(paired.labels) or tuple(ser.labels) != tuple(paired.labels):
        raise ValueError(
            f"the TER predicts {ter.labels} and the SER {ser.labels}, the paired set has "
            f"{paired.labels}"
        )
    states = job.fusion.kind == "attention"
    outputs, ood = paired_outputs(
        ter,
        ser,
        paired,
        ood_audio=job.ood_audio,
        oof_speech=job.oof_speech,
        states=states,
        transcripts=job.transcripts,
        wer=job.wer,
        tts_prosody=job.tts_prosody,
        audio_cache=job.audio_cache,
        cache_dir=job.cache_dir,
        progress=job.progress,
    )
    holders = [i.holder for i in outputs.items]
    if job.val_fraction > 0:
        fit_idx, val_idx = group_holdout(holders, job.val_fraction, seed=job.training.seed)
    else:
        fit_idx, val_idx = np.arange(len(holders)), np.zeros(0, dtype=int)
    fit, val = outputs.subset(fit_idx), outputs.subset(val_idx)
    config = FusionConfig(
        **{
            **asdict(job.fusion),
            "labels": paired.labels,
            "text_size": ter.config.hidden_size,
            "speech_size": speech_branch(ser).feature_size,
            "state_size": state_size(ser) if states else job.fusion.state_size,
        }
    )
    block = FusionBlock.create(config, seed=job.training.seed)
    result = train_fusion(
        block, fit.inputs(), fit.labels(paired.labels), job.training, progress=job.progress
    )
    metrics: dict[str, Any] = {}
    if len(val.items):
        logits = block.logits(val.inputs())
        y = val.labels(paired.labels)
        report = classification_report(np.asarray(y), logits.argmax(1), paired.labels)
        calibration = fit_temperature(logits, y)
        metrics["validation"] = {
            "accuracy": report.accuracy,
            "ua": report.ua,
            "macro_f1": report.macro_f1,
            "n": report.n,
            "speakers": sorted({i.holder for i in val.items}),
            "calibration": calibration.to_dict(),
        }
        block.temperature = calibration.temperature
    if job.temperature is not None:
        block.temperature = float(job.temperature)
    if job.cv_results is not None:
        metrics["cross_validation"] = _cv_metrics(job.cv_results)
    for path in job.ood_results:
        metrics.setdefault("ood", []).append(_ood_metrics(path))
    model = IEmoNet.from_parts(ter=job.ter or _default("ter"), ser=ser_dir, fusion=block)
    speech_outputs_note = (
        "cross-fitted: each group's speech posteriors from an SER of the same recipe trained "
        "on the other groups"
        if job.oof_speech
        else "from the SER itself (in-sample for the clips it was trained on)"
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
            "ood_audio": ood.to_dict() if job.ood_audio else None,
            "conditions": describe_items(outputs.items),
            "speech_outputs": speech_outputs_note,
            "fit_speakers": sorted({i.holder for i in fit.items}),
            "val_speakers": sorted({i.holder for i in val.items}),
        },
        "calibration": {
            "temperature": block.temperature,
            "source": (
                f"given{': ' + job.temperature_note if job.temperature_note else ''}"
                if job.temperature is not None
                else "fitted on the validation speakers"
                if len(val.items)
                else "none (no validation speakers, no --temperature)"
            ),
        },
        "metrics": metrics,
    }
    model.save_pretrained(job.out, **metadata)
    return metadata


def _ood_metrics(path: Path) -> dict[str, Any]:
    """Means and stds per system and test set of an ``evaluate fusion --ood`` run."""
    import json

    saved = json.loads(Path(path).read_text(encoding="utf-8"))
    systems = {
        system: {
            name: {m: run[m] for m in ("accuracy", "ua", "macro_f1")} for name, run in sets.items()
        }
        for system, sets in saved["systems"].items()
    }
    return {
        "source": str(path),
        "speech": saved.get("speech"),
        "protocol": saved.get("protocol"),
        "seeds": (saved.get("config") or {}).get("seeds"),
        "temperature_mean": saved.get("temperature_mean"),
        "systems": systems,
    }


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
    from emorl.recognizers.speech.model import DEFAULT_SER_DIR
    from emorl.recognizers.text.model import DEFAULT_TER_DIR

    return DEFAULT_TER_DIR if what == "ter" else DEFAULT_SER_DIR


def run_evaluate_fusion(
    model: IEmoNet,
    paired: PairedSet,
    *,
    group: int | None = None,
    transcripts: str = "provided",
    wer: float = 0.06,
    confusion_png: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """WA/UA/macro-F1 and ECE of the fused posteriors; unseen speakers self-normalised."""
    outputs, _ = paired_outputs(
        model.ter,
        model.ser,
        paired,
        states=model.fusion.needs_states,
        transcripts=transcripts,
        wer=wer,
        cache_dir=cache_dir,
        progress=progress,
    )
    if group is not None:
        outputs = outputs.subset([k for k, i in enumerate(outputs.items) if i.group == group])
        if not outputs.items:
            raise ValueError(f"no paired clip in group {group}")
    inputs = outputs.inputs()
    probs = model.fusion.probabilities(inputs)
    raw = model.fusion.probabilities(inputs, calibrated=False)
    y = np.asarray(outputs.labels(model.labels))
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
