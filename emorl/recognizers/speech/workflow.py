"""End-to-end SER jobs behind the CLI: features of a corpus, train, evaluate, cross-validate."""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emorl.artifacts import data_reference, source_key, staged_folder
from emorl.audio import AudioError
from emorl.data import Corpus, load_corpus
from emorl.emotions import FOUR_CLASS, LabelMode
from emorl.evaluation import (
    cross_validate,
    group_holdout,
    plot_confusion_matrix,
    plot_learning_curves,
    save_cv,
)
from emorl.paths import cache_root
from emorl.progress import task_progress
from emorl.recognizers.speech.baseline import FunctionalsBaseline
from emorl.recognizers.speech.features import FeatureExtractionError, SpeechFeatureExtractor
from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
from emorl.recognizers.speech.training import (
    SERTrainingConfig,
    evaluate_ser,
    predict_frames,
    train_ser,
)
from emorl.recognizers.text.workflow import CorpusSource
from emorl.recognizers.training import CHECKPOINT_NAME, key_settings

# finished fold x seed runs of a cross-validation, so an interrupted one resumes
CV_JOURNAL = "crossval_runs.json"

FeatureKind = Literal["frames", "functionals"]


@dataclass
class SpeechSet:
    """Feature arrays of labelled clips with their speakers."""

    labels: tuple[str, ...]
    ids: list[str] = field(default_factory=list)
    arrays: list[np.ndarray] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: Sequence[int]) -> SpeechSet:
        return SpeechSet(
            self.labels,
            [self.ids[i] for i in index],
            [self.arrays[i] for i in index],
            [self.y[i] for i in index],
            [self.speakers[i] for i in index],
        )

    def counts(self) -> dict[str, int]:
        found = Counter(self.y)
        return {label: found.get(i, 0) for i, label in enumerate(self.labels)}


def usable_features(extract: Callable[[Path], np.ndarray], path: Path) -> np.ndarray | str:
    """``extract(path)``, or the reason the clip cannot be used (corrupt, silent, short...)."""
    try:
        return extract(path)
    except (AudioError, FeatureExtractionError) as err:
        return getattr(err, "problem", None) or str(err).split(": ", 1)[-1]


def speech_set(
    corpus: Corpus,
    extractor: SpeechFeatureExtractor | None,
    kind: FeatureKind = "frames",
    *,
    progress: bool = True,
    features: Callable[[list[Path]], list[np.ndarray | str]] | None = None,
) -> SpeechSet:
    """Extract (or read cached) features of every clip of ``corpus``.

    ``features(paths)`` computes them elsewhere instead (each an array or the reason the
    clip cannot be used; e.g. on Ray actors, :func:`emorl.scale.recognizers.speech_features`).
    A clip whose audio cannot be used is counted in ``corpus.skipped`` under
    ``"unusable audio: <reason>"`` and named in a warning.
    """
    paths = []
    for utt in corpus.utterances:
        if utt.audio_path is None:
            raise ValueError(f"{corpus.name}: utterance {utt.id} has no audio")
        paths.append(utt.audio_path)
    if features is not None:
        found = features(paths)
    else:
        if extractor is None:
            raise ValueError("speech_set needs an extractor or features")
        extract = extractor.frames_file if kind == "frames" else extractor.functionals_file
        found = []
        with task_progress(progress) as bar:
            task = bar.add_task(f"{kind} of {corpus.name}", total=len(paths))
            for path in paths:
                found.append(usable_features(extract, path))
                bar.advance(task)
    index = {label: i for i, label in enumerate(corpus.labels)}
    result = SpeechSet(corpus.labels)
    failed: list[str] = []
    for utt, item in zip(corpus.utterances, found, strict=True):
        if isinstance(item, str):
            corpus.skipped[f"unusable audio: {item}"] += 1
            failed.append(str(utt.audio_path))
            continue
        result.ids.append(utt.id)
        result.arrays.append(item)
        result.y.append(index[utt.label])
        result.speakers.append(utt.speaker or "unknown")
    if failed:
        warnings.warn(
            f"{len(failed)} clip(s) of {corpus.name} skipped as unusable "
            f"(first: {failed[0]}); see the 'skipped' counts",
            stacklevel=2,
        )
    return result


def _read(source: CorpusSource, mode: LabelMode) -> Corpus:
    return load_corpus(source.name, source.path, labels=mode)


def _merge(sets: Sequence[SpeechSet]) -> SpeechSet:
    labels = {s.labels for s in sets}
    if len(labels) != 1:
        raise ValueError("corpora with different label sets cannot be mixed")
    merged = SpeechSet(sets[0].labels)
    for part in sets:
        merged.ids += part.ids
        merged.arrays += part.arrays
        merged.y += part.y
        merged.speakers += part.speakers
    return merged


@dataclass
class SERTrainJob:
    """Everything ``emorl train ser`` needs."""

    train: list[CorpusSource]
    out: Path
    model: SERConfig = field(default_factory=SERConfig)
    training: SERTrainingConfig = field(default_factory=SERTrainingConfig)
    val_speakers: list[str] = field(default_factory=list)
    val_fraction: float = 0.0
    label_mode: LabelMode = "four"
    cache_dir: Path | None = None
    progress: bool = True


def run_train_ser(job: SERTrainJob) -> dict[str, Any]:
    """Train the paper network on corpora; save model, metrics, confusion and curves."""
    extractor = SpeechFeatureExtractor(
        job.model.feature_config(), cache_dir=job.cache_dir or cache_root("features")
    )
    corpora = [_read(s, job.label_mode) for s in job.train]
    data = _merge([speech_set(c, extractor, progress=job.progress) for c in corpora])
    if job.val_speakers:
        unknown = set(job.val_speakers) - set(data.speakers)
        if unknown:
            raise ValueError(f"validation speaker(s) not in the data: {', '.join(sorted(unknown))}")
        val_idx = [i for i, s in enumerate(data.speakers) if s in set(job.val_speakers)]
        train_idx = [i for i, s in enumerate(data.speakers) if s not in set(job.val_speakers)]
    elif job.val_fraction > 0:
        train_idx, val_idx = group_holdout(data.speakers, job.val_fraction, seed=job.training.seed)
    else:
        train_idx, val_idx = list(range(len(data))), []
    train, val = data.subset(train_idx), data.subset(val_idx) if len(val_idx) else None
    config = SERConfig(**{**asdict(job.model), "labels": data.labels})
    input_size = data.arrays[0].shape[1]
    model = SpeechEmotionRecognizer.create(config, seed=job.training.seed, input_size=input_size)
    job.out.mkdir(parents=True, exist_ok=True)  # holds the checkpoint while training
    result = train_ser(
        model,
        train.arrays,
        train.y,
        job.training,
        speakers=train.speakers,
        val_sequences=val.arrays if val else None,
        val_labels=val.y if val else None,
        val_speakers=val.speakers if val else None,
        checkpoint_dir=job.out,
        progress=job.progress,
    )
    training_meta = {
        **asdict(job.training),
        "seconds": round(result.seconds, 1),
        "seconds_per_epoch": round(result.seconds / max(len(result.history["train_loss"]), 1), 2),
        "history": result.history,
        "best_epoch": result.best_epoch,
    }
    if result.resumed:
        training_meta["resumed"] = result.resumed
    metadata = {
        "training": training_meta,
        "data": {
            "train": [data_reference(s.name, s.path) for s in job.train],
            "label_mode": job.label_mode,
            "train_speakers": sorted(set(train.speakers)),
            "val_speakers": sorted(set(val.speakers)) if val else [],
            "train_counts": train.counts(),
            "val_counts": val.counts() if val else {},
            "skipped": {
                source_key(s.name, s.path): dict(c.skipped)
                for s, c in zip(job.train, corpora, strict=True)
            },
        },
    }
    # The folder is written whole or not at all: weights, config, metrics and plots go
    # into a sibling first, which then replaces ``job.out`` (and its checkpoint).
    with staged_folder(job.out) as stage:
        if val is not None:
            report = evaluate_ser(model, val.arrays, val.y, val.speakers)
            metadata["metrics"] = {
                "validation": {k: v for k, v in report.to_dict().items() if k != "per_class"}
            }
            plot_confusion_matrix(
                report.confusion,
                data.labels,
                stage / "confusion_validation.png",
                title="SER validation",
            )
        model.save_pretrained(stage, **metadata)
        plot_learning_curves(result.history, stage / "learning_curve.png", title="SER training")
    (job.out / CHECKPOINT_NAME).unlink(missing_ok=True)
    return metadata


def run_evaluate_ser(
    model: SpeechEmotionRecognizer,
    source: CorpusSource,
    *,
    confusion_png: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    features: Callable[[list[Path]], list[np.ndarray | str]] | None = None,
) -> dict[str, Any]:
    """Evaluate on a corpus; each unseen speaker is normalised with their own clips.

    ``features``: compute the clips' input frames elsewhere (see :func:`speech_set`).
    """
    mode: LabelMode = "four" if model.labels == FOUR_CLASS else "full"
    corpus = _read(source, mode)
    if corpus.labels != model.labels:
        raise ValueError(
            f"{source.name} yields labels {corpus.labels}, the model predicts {model.labels}"
        )
    extractor = (
        SpeechFeatureExtractor(
            model.config.feature_config(), cache_dir=cache_dir or cache_root("features")
        )
        if features is None
        else None
    )
    data = speech_set(corpus, extractor, progress=progress, features=features)
    if len(data) == 0:
        raise ValueError(f"{source.path}: no usable clips to evaluate")
    begun = time.perf_counter()
    report = evaluate_ser(model, data.arrays, data.y, data.speakers)
    seconds = time.perf_counter() - begun
    if confusion_png is not None:
        plot_confusion_matrix(
            report.confusion, model.labels, confusion_png, title=f"SER on {source.name}"
        )
    out = report.to_dict()
    out.update(
        corpus=source.name,
        data=str(source.path),
        skipped=dict(corpus.skipped),
        speakers=len(set(data.speakers)),
        model_seconds=round(seconds, 2),
    )
    return out


@dataclass
class SERCrossValJob:
    """Speaker-exclusive k-fold cross-validation of the network or the baseline."""

    sources: list[CorpusSource]
    backend: Literal["network", "functionals"] = "network"
    model: SERConfig = field(default_factory=SERConfig)
    training: SERTrainingConfig = field(default_factory=SERTrainingConfig)
    baseline: FunctionalsBaseline = field(default_factory=FunctionalsBaseline)
    folds: int = 5
    seeds: tuple[int, ...] = (0, 1, 2)
    split_seed: int = 0
    label_mode: LabelMode = "four"
    cache_dir: Path | None = None
    out: Path | None = None
    progress: bool = True


def run_crossval_ser(job: SERCrossValJob) -> dict[str, Any]:
    """Speaker-exclusive folds; WA/UA/macro-F1 mean and std over folds x initialisations."""
    extractor = SpeechFeatureExtractor(
        job.model.feature_config(), cache_dir=job.cache_dir or cache_root("features")
    )
    kind: FeatureKind = "frames" if job.backend == "network" else "functionals"
    corpora = [_read(s, job.label_mode) for s in job.sources]
    data = _merge([speech_set(c, extractor, kind, progress=job.progress) for c in corpora])
    labels = data.labels
    config = SERConfig(**{**asdict(job.model), "labels": labels})
    begun = time.perf_counter()

    def fit_predict(train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> np.ndarray:
        train, test = data.subset(train_idx), data.subset(test_idx)
        if job.backend == "functionals":
            baseline = FunctionalsBaseline(
                classifier=job.baseline.classifier,
                normalization=job.baseline.normalization,
                c=job.baseline.c,
                seed=seed,
            )
            return baseline.fit(train.arrays, train.y, train.speakers).predict(
                test.arrays, test.speakers
            )
        model = SpeechEmotionRecognizer.create(
            config, seed=seed, input_size=train.arrays[0].shape[1]
        )
        training = SERTrainingConfig(**{**asdict(job.training), "seed": seed})
        train_ser(model, train.arrays, train.y, training, speakers=train.speakers, progress=False)
        return predict_frames(model, test.arrays, test.speakers).argmax(axis=1)

    key = json.dumps(
        {
            "backend": job.backend,
            "model": asdict(config),
            "training": key_settings(job.training) if job.backend == "network" else None,
            "baseline": [job.baseline.classifier, job.baseline.normalization, job.baseline.c]
            if job.backend == "functionals"
            else None,
            "folds": job.folds,
            "split_seed": job.split_seed,
            "ids": data.ids,
        },
        sort_keys=True,
        default=list,
    )
    result = cross_validate(
        fit_predict,
        data.y,
        labels,
        folds=job.folds,
        seeds=job.seeds,
        groups=data.speakers,
        split_seed=job.split_seed,
        progress=job.progress,
        journal=job.out / CV_JOURNAL if job.out is not None else None,
        key=key,
    )
    summary = result.summary()
    summary.update(
        backend=job.backend,
        feature_set=job.model.feature_set,
        protocol={
            "folds": job.folds,
            "seeds": list(job.seeds),
            "group": "speaker",
            "split_seed": job.split_seed,
            "label_mode": job.label_mode,
        },
        corpora=[data_reference(s.name, s.path) for s in job.sources],
        formatted={m: result.format(m) for m in ("accuracy", "ua", "macro_f1")},
        seconds=round(time.perf_counter() - begun, 1),
        skipped={
            source_key(s.name, s.path): dict(c.skipped)
            for s, c in zip(job.sources, corpora, strict=True)
        },
    )
    if job.backend == "network":
        summary["model"] = asdict(config) | {"labels": list(labels)}
        summary["training"] = asdict(job.training)
    else:
        summary["baseline"] = {
            "classifier": job.baseline.classifier,
            "normalization": job.baseline.normalization,
            "c": job.baseline.c,
        }
    if job.out is not None:
        save_cv(result, summary, job.out, title=f"SER ({job.backend}) {job.folds}-fold speaker CV")
    return summary
