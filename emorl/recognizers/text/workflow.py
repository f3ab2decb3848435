"""End-to-end TER jobs behind the CLI: train on corpora, evaluate on a corpus."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import data_reference, source_key, staged_folder
from emorl.data import Corpus, load_corpus
from emorl.emotions import FOUR_CLASS, LabelMode
from emorl.evaluation import (
    ClassificationReport,
    classification_report,
    group_holdout,
    holdout,
    plot_confusion_matrix,
    plot_learning_curves,
)
from emorl.recognizers.text.data import TextSet, group_names, split_where, text_set
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer
from emorl.recognizers.text.training import (
    CHECKPOINT_NAME,
    TERTrainingConfig,
    TrainingResult,
    cap_per_class,
    choose_prior_correction,
    evaluate_ter,
    prior_offsets,
    train_ter,
)
from emorl.recognizers.training import key_settings


@dataclass
class CorpusSource:
    """One corpus to read: its reader name and path."""

    name: str
    path: Path


@dataclass
class TERTrainJob:
    """Everything ``emorl train ter`` needs."""

    train: list[CorpusSource]
    out: Path
    model: TERConfig = field(default_factory=TERConfig)
    training: TERTrainingConfig = field(default_factory=TERTrainingConfig)
    validation: list[CorpusSource] = field(default_factory=list)
    holdout: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    prior_correction: float | str | None = None
    val_fraction: float = 0.0
    val_group: str = "dialogue"
    max_per_class: int | None = None
    label_mode: LabelMode = "four"
    progress: bool = True


@dataclass
class TERTrainOutcome:
    """What a training job wrote and measured."""

    model_dir: Path
    train_counts: dict[str, int]
    val_counts: dict[str, int]
    result: TrainingResult
    validation: ClassificationReport | None
    skipped: dict[str, dict[str, int]]


def _read(source: CorpusSource, mode: LabelMode) -> Corpus:
    return load_corpus(source.name, source.path, labels=mode)


def _split_validation(corpus: Corpus, job: TERTrainJob) -> tuple[TextSet, TextSet | None]:
    """The training part of one corpus and, where the job asks, its held-out part.

    The ``holdout`` conditions are applied first, then ``exclude`` drops matching
    utterances from what is left for training.
    """
    kept, held = split_where(corpus, job.holdout) if job.holdout else (corpus.utterances, [])
    if job.exclude:
        kept, _ = split_where(corpus, job.exclude, kept)
    if job.holdout:
        return (
            text_set(kept, corpus.labels, corpus.name),
            text_set(held, corpus.labels, corpus.name),
        )
    if job.val_fraction > 0:
        data = text_set(kept, corpus.labels, corpus.name)
        seed = job.training.seed
        if job.val_group == "none":
            train_idx, val_idx = holdout(len(data), job.val_fraction, seed=seed, stratify=data.y)
        else:
            groups = group_names(kept, job.val_group)
            train_idx, val_idx = group_holdout(groups, job.val_fraction, seed=seed)
        return data.subset(train_idx), data.subset(val_idx)
    return text_set(kept, corpus.labels, corpus.name), None


def _labels_for(corpora: Sequence[Corpus]) -> tuple[str, ...]:
    labels = {c.labels for c in corpora}
    if len(labels) != 1:
        found = "; ".join(f"{c.name}: {', '.join(c.labels)}" for c in corpora)
        raise ValueError(f"corpora have different label sets and cannot be mixed ({found})")
    return labels.pop()


def run_train_ter(job: TERTrainJob) -> TERTrainOutcome:
    """Read corpora, fine-tune, save the model folder with its metrics and plots."""
    corpora = [_read(s, job.label_mode) for s in job.train]
    labels = _labels_for(corpora)
    train, val = TextSet(labels), TextSet(labels)
    for corpus in corpora:
        part, held = _split_validation(corpus, job)
        if job.max_per_class:
            part = part.subset(cap_per_class(part.y, job.max_per_class, seed=job.training.seed))
        train.extend(part)
        if held is not None:
            val.extend(held)
    val_corpora = [_read(s, job.label_mode) for s in job.validation]
    for corpus in val_corpora:
        if corpus.labels != labels:
            raise ValueError(
                f"validation corpus {corpus.name} has labels {corpus.labels}, training has {labels}"
            )
        val.extend(text_set(corpus.utterances, labels, corpus.name))
    if len(train) == 0:
        raise ValueError("no training utterances")
    validating = bool(job.holdout or job.val_fraction > 0 or job.validation)
    if validating and len(val) == 0:
        raise ValueError("the validation split is empty")
    if job.prior_correction == "auto" and not validating:
        raise ValueError(
            "--prior-correction auto chooses its strength on validation data: give some"
        )
    val = val if validating else None
    missing = [label for label, n in train.counts().items() if n == 0]
    if missing:
        raise ValueError(f"no training examples of {', '.join(missing)}")

    model_config = TERConfig(**{**asdict(job.model), "labels": labels})
    model = TextEmotionRecognizer.create(model_config, seed=job.training.seed)
    job.out.mkdir(parents=True, exist_ok=True)  # holds the checkpoint while training
    result = train_ter(
        model,
        train.texts,
        train.y,
        job.training,
        val_texts=val.texts if val else None,
        val_labels=val.y if val else None,
        checkpoint_dir=job.out,
        progress=job.progress,
    )
    sources = [*job.train, *job.validation]
    skipped = {
        source_key(s.name, s.path): dict(c.skipped)
        for s, c in zip(sources, corpora + val_corpora, strict=True)
    }
    data = {
        "train": [data_reference(s.name, s.path) for s in job.train],
        "validation": [data_reference(s.name, s.path) for s in job.validation],
        "holdout": job.holdout,
        "val_fraction": job.val_fraction,
        "val_group": job.val_group,
        "max_per_class": job.max_per_class,
        "label_mode": job.label_mode,
        "train_counts": train.counts(),
        "val_counts": val.counts() if val else {},
        "skipped": skipped,
    }
    training_meta = {
        **asdict(job.training),
        "seconds": round(result.seconds, 1),
        "examples_per_second": round(result.examples_per_second, 1),
        "history": result.history,
        "best_epoch": result.best_epoch,
    }
    if result.resumed:
        training_meta["resumed"] = result.resumed
    # The folder is written whole or not at all: weights, config, metrics and plots go
    # into a sibling first, which then replaces ``job.out`` (and its checkpoint).
    report = None
    with staged_folder(job.out) as stage:
        model.save_pretrained(stage, training=training_meta, data=data)
        # Measure the model as stored (weights rounded to the storage dtype), not as trained.
        stored = TextEmotionRecognizer.from_pretrained(stage)
        report = None
        if job.prior_correction is not None:
            data["prior_correction"], report = _apply_prior_correction(stored, job, train, val)
            stored.save_config(stage, data=data)
        if report is None and val:
            report = evaluate_ter(stored, val.texts, val.y)
        if report is not None:
            metrics = {k: v for k, v in report.to_dict().items() if k != "per_class"}
            stored.save_config(stage, metrics={"validation": metrics})
            plot_confusion_matrix(
                report.confusion, labels, stage / "confusion_validation.png", title="TER validation"
            )
        if result.history.get("train_loss"):
            plot_learning_curves(result.history, stage / "learning_curve.png", title="TER training")
    (job.out / CHECKPOINT_NAME).unlink(missing_ok=True)
    return TERTrainOutcome(
        job.out, train.counts(), val.counts() if val else {}, result, report, skipped
    )


def _apply_prior_correction(
    model: TextEmotionRecognizer, job: TERTrainJob, train: TextSet, val: TextSet | None
) -> tuple[dict[str, Any], ClassificationReport | None]:
    """Set the model's logit offsets from the training class shares; ``auto`` chooses the
    strength by validation UA. Returns what the config records about it and the validation
    report of the corrected model (from one pass over the validation texts)."""
    counts = train.counts()
    shares = [counts[label] / len(train) for label in model.labels]
    record: dict[str, Any] = {"train_shares": dict(zip(model.labels, shares, strict=True))}
    model.config.logit_offsets = ()
    probs = model.probabilities(val.texts) if val else None
    if job.prior_correction == "auto":
        assert val is not None and probs is not None
        tau, scores = choose_prior_correction(probs, val.y, shares, model.labels)
        record.update(chosen_by="validation UA", validation_by_tau=scores)
    else:
        tau = float(job.prior_correction)  # type: ignore[arg-type]
    offsets = prior_offsets(shares, tau)
    model.config.logit_offsets = offsets
    record["tau"] = tau
    report = None
    if val and probs is not None:
        adjusted = np.log(np.clip(probs, 1e-12, None)) + np.asarray(offsets)
        report = classification_report(np.asarray(val.y), adjusted.argmax(axis=1), model.labels)
    return record, report


def label_mode_for(model: TextEmotionRecognizer) -> LabelMode:
    """The reader mode whose labels match the model's."""
    return "four" if model.labels == FOUR_CLASS else "full"


def run_evaluate_ter(
    model: TextEmotionRecognizer, source: CorpusSource, *, confusion_png: Path | None = None
) -> dict[str, Any]:
    """Evaluate on one corpus; a dict with ``n``, ``accuracy``, ``ua``, ``macro_f1``...

    ``model`` is a :class:`TextEmotionRecognizer` or anything with its ``labels`` and
    ``probabilities(texts, batch_size=)`` (e.g. :class:`emorl.scale.recognizers.RayTextRecognizer`).
    """
    corpus = _read(source, label_mode_for(model))
    if corpus.labels != model.labels:
        raise ValueError(
            f"{source.name} yields labels {corpus.labels}, the model predicts {model.labels}"
        )
    data = text_set(corpus.utterances, corpus.labels, corpus.name)
    if len(data) == 0:
        raise ValueError(f"{source.path}: no utterances to evaluate")
    begun = time.perf_counter()
    report = evaluate_ter(model, data.texts, data.y)
    seconds = time.perf_counter() - begun
    if confusion_png is not None:
        plot_confusion_matrix(
            report.confusion, model.labels, confusion_png, title=f"TER on {source.name}"
        )
    out = report.to_dict()
    out.update(
        {
            "corpus": source.name,
            "data": str(source.path),
            "skipped": dict(corpus.skipped),
            "sentences_per_second": round(len(data) / seconds, 1),
        }
    )
    return out


def predict_texts(model: TextEmotionRecognizer, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Label and posteriors for each text."""
    probs = model.probabilities(list(texts))
    return [
        {
            "text": text,
            "label": model.labels[int(np.argmax(row))],
            "probabilities": dict(zip(model.labels, map(float, row), strict=True)),
        }
        for text, row in zip(texts, probs, strict=True)
    ]


@dataclass
class TERCrossValJob:
    """``emorl crossval ter``: k-fold CV, several initialisations per fold."""

    sources: list[CorpusSource]
    model: TERConfig = field(default_factory=TERConfig)
    training: TERTrainingConfig = field(default_factory=TERTrainingConfig)
    folds: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    group: str = "none"
    split_seed: int = 0
    label_mode: LabelMode = "four"
    out: Path | None = None
    progress: bool = True


def run_crossval_ter(job: TERCrossValJob) -> dict[str, Any]:
    """Train a fresh TER per fold and seed; WA/UA/macro-F1 as mean and std over all runs."""
    from emorl.evaluation import cross_validate, save_cv

    corpora = [_read(s, job.label_mode) for s in job.sources]
    labels = _labels_for(corpora)
    data = TextSet(labels)
    utterances = []
    for corpus in corpora:
        data.extend(text_set(corpus.utterances, labels, corpus.name))
        utterances += corpus.utterances
    groups = None if job.group == "none" else group_names(utterances, job.group)
    config = TERConfig(**{**asdict(job.model), "labels": labels})

    def fit_predict(train_idx: np.ndarray, test_idx: np.ndarray, seed: int) -> np.ndarray:
        model = TextEmotionRecognizer.create(config, seed=seed)
        training = TERTrainingConfig(**{**asdict(job.training), "seed": seed})
        part = data.subset(train_idx)
        train_ter(model, part.texts, part.y, training, progress=False)
        return model.probabilities([data.texts[i] for i in test_idx]).argmax(axis=1)

    result = cross_validate(
        fit_predict,
        data.y,
        labels,
        folds=job.folds,
        seeds=job.seeds,
        groups=groups,
        split_seed=job.split_seed,
        progress=job.progress,
        journal=job.out / "crossval_runs.json" if job.out is not None else None,
        key=json.dumps(
            {
                "model": asdict(config),
                "training": key_settings(job.training),
                "folds": job.folds,
                "group": job.group,
                "split_seed": job.split_seed,
                "texts": data.texts,
            },
            sort_keys=True,
            default=list,
        ),
    )
    summary = result.summary()
    summary.update(
        {
            "protocol": {
                "folds": job.folds,
                "seeds": list(job.seeds),
                "group": job.group,
                "split_seed": job.split_seed,
            },
            "corpora": [data_reference(s.name, s.path) for s in job.sources],
            "formatted": {m: result.format(m) for m in ("accuracy", "ua", "macro_f1")},
        }
    )
    if job.out is not None:
        save_cv(result, summary, job.out, title=f"TER {job.folds}-fold CV")
    return summary
