"""The paper's IEMOCAP experiment (Tables 2-4), runnable by anyone with the corpus.

Per fold and seed: a TER fine-tuned from the base encoder on the training transcripts, an
SER trained on the training clips, fusion blocks on their frozen features, scored on the
test fold. Transcripts are the provided ones, Whisper's (``asr``) or the provided ones
with simulated errors (``noisy``). Splits: ``random`` (stratified k-fold, the paper's) or
``session`` (leave-one-session-out, speaker-exclusive).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from emorl.data import load_corpus
from emorl.evaluation import group_kfold, kfold
from emorl.paths import cache_root
from emorl.progress import task_progress
from emorl.recognizers.experiments.bimodal import (
    BimodalSet,
    ExperimentConfig,
    ExperimentResult,
    noisy_texts,
    run_fold,
    save_experiment,
)
from emorl.recognizers.fusion.training import JointTrainingConfig
from emorl.recognizers.speech.features import SpeechFeatureExtractor
from emorl.recognizers.speech.model import SERConfig
from emorl.recognizers.speech.training import SERTrainingConfig
from emorl.recognizers.text.model import TERConfig
from emorl.recognizers.text.training import TERTrainingConfig


@dataclass
class IemocapJob:
    """Settings of ``emorl experiment iemocap``."""

    root: Path
    out: Path
    folds: int = 10
    seeds: tuple[int, ...] = (0, 1, 2)
    transcripts: Literal["provided", "asr", "noisy"] = "provided"
    wer: float = 0.06
    split: Literal["random", "session"] = "random"
    encoder: str | None = None
    ter_epochs: int = 7
    ser_epochs: int = 12
    joint: bool = False
    split_seed: int = 0
    min_duration: float | None = 3.0
    max_duration: float | None = 15.0
    asr: Any = None
    cache_dir: Path | None = None
    progress: bool = True


def _transcripts(job: IemocapJob, corpus) -> list[str]:
    utterances = corpus.utterances
    if job.transcripts == "asr":
        asr = job.asr
        if asr is None:
            from emorl.asr import WhisperTranscriber

            asr = WhisperTranscriber()
        out = []
        with task_progress(job.progress) as bar:
            task = bar.add_task("ASR transcripts", total=len(utterances))
            for u in utterances:
                out.append(asr.transcribe(u.audio_path).text)
                bar.advance(task)
        return out
    missing = [u.id for u in utterances if not u.text]
    if missing:
        raise ValueError(
            f"{job.root}: {len(missing)} utterance(s) have no transcript (first: {missing[0]}); "
            "use --transcripts asr"
        )
    texts = [str(u.text) for u in utterances]
    if job.transcripts == "noisy":
        return noisy_texts(texts, [u.id for u in utterances], job.wer, seed=job.split_seed)
    return texts


def load_iemocap_set(job: IemocapJob, ser_config: SERConfig) -> tuple[BimodalSet, list[int]]:
    """Frames, transcripts, labels and speakers of the usable IEMOCAP utterances, with sessions."""
    corpus = load_corpus(
        "iemocap", job.root, min_duration=job.min_duration, max_duration=job.max_duration
    )
    if not corpus.utterances:
        raise ValueError(f"{job.root}: no four-class utterances found")
    missing = [u.audio_path for u in corpus.utterances if not Path(u.audio_path).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} IEMOCAP wav file(s) missing, first: {missing[0]}")
    extractor = SpeechFeatureExtractor(
        ser_config.feature_config(), cache_dir=job.cache_dir or cache_root("features")
    )
    sequences = []
    with task_progress(job.progress) as bar:
        task = bar.add_task("IS09 frames", total=len(corpus.utterances))
        for u in corpus.utterances:
            sequences.append(extractor.frames_file(u.audio_path))
            bar.advance(task)
    index = {label: i for i, label in enumerate(corpus.labels)}
    data = BimodalSet(
        corpus.labels,
        [u.id for u in corpus.utterances],
        _transcripts(job, corpus),
        sequences,
        [index[u.label] for u in corpus.utterances],
        [str(u.speaker) for u in corpus.utterances],
    )
    return data, [int(u.extra["session"]) for u in corpus.utterances]


def experiment_config(job: IemocapJob) -> ExperimentConfig:
    """The paper's recipe for every sub-model, at the job's epochs and seeds."""
    ter_model = TERConfig() if job.encoder is None else TERConfig(encoder=job.encoder)
    return ExperimentConfig(
        ser_training=SERTrainingConfig(epochs=job.ser_epochs),
        ter_model=ter_model,
        ter_training=TERTrainingConfig(epochs=job.ter_epochs, checkpoint_every=0),
        joint=JointTrainingConfig() if job.joint else None,
        seeds=job.seeds,
        retrain_per_seed=True,
        transcripts=(job.transcripts,),
        wer=job.wer,
    )


def run_iemocap_experiment(job: IemocapJob, config: ExperimentConfig | None = None) -> dict:
    """Run every fold; write ``results.md``, ``results.json`` and confusion PNGs to ``job.out``."""
    begun = time.perf_counter()
    config = config or experiment_config(job)
    data, sessions = load_iemocap_set(job, config.ser_model)
    y = np.asarray(data.y)
    if job.split == "session":
        splits = group_kfold(sessions, len(set(sessions)), seed=job.split_seed)
    else:
        splits = kfold(len(data), job.folds, seed=job.split_seed, stratify=y)
    # the transcripts were already made noisy or recognised above: one condition, named
    config = ExperimentConfig(**{**asdict_shallow(config), "transcripts": ("as_loaded",)})
    result = ExperimentResult(data.labels)
    for fold, (train, test) in enumerate(splits):
        run_fold(fold, data.subset(train), data.subset(test), config, result, progress=job.progress)
    for conditions in result.runs.values():
        if "as_loaded" in conditions:
            conditions[job.transcripts] = conditions.pop("as_loaded")
    for record in result.calibration:
        record["condition"] = job.transcripts
    extra = {
        "protocol": {
            "corpus": "iemocap",
            "root": str(job.root),
            "split": job.split,
            "folds": len(splits),
            "seeds": list(job.seeds),
            "transcripts": job.transcripts,
            "wer": job.wer if job.transcripts == "noisy" else None,
            "split_seed": job.split_seed,
        },
        "n": len(data),
        "config": config.to_dict(),
        "seconds": round(time.perf_counter() - begun, 1),
    }
    title = f"IEMOCAP, {job.transcripts} transcripts, {job.split} {len(splits)}-fold"
    return save_experiment(result, job.out, title, extra)


def asdict_shallow(config: ExperimentConfig) -> dict[str, Any]:
    """The config's fields without converting nested dataclasses."""
    return {name: getattr(config, name) for name in asdict(config)}
