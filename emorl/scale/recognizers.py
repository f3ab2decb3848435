"""TER and SER evaluation predictions on Ray Data: actors that load the model once.

:func:`evaluate_ter` and :func:`evaluate_ser` return the dict that
:func:`emorl.recognizers.text.workflow.run_evaluate_ter` and
:func:`emorl.recognizers.speech.workflow.run_evaluate_ser` return (same keys, same
metrics, the same confusion PNG); only where the work runs differs. TER: each actor
loads the model folder and maps batches of texts to posteriors. SER: each actor
extracts the clips' features through the same on-disk feature cache
(``<cache>/<feature key>/frames/<sha256>.npy``); the predictions are made here, because
every unseen speaker is normalised with all of their own clips.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emorl.scale.cluster import cluster_cpus
from emorl.scale.data import BatchActor, map_rows

__all__ = ["evaluate_ser", "evaluate_ter", "speech_features", "ter_probabilities"]


class TERActor(BatchActor):
    """One text emotion recognizer per actor; rows ``{text}`` -> ``{probabilities}``."""

    def __init__(self, model_dir: str, batch_size: int = 64) -> None:
        super().__init__()
        from emorl.recognizers.text.model import TextEmotionRecognizer

        self.model = TextEmotionRecognizer.from_pretrained(model_dir)
        self.batch_size = batch_size

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        probs = self.model.probabilities([r["text"] for r in rows], batch_size=self.batch_size)
        return [{"probabilities": row.tolist()} for row in probs]


def ter_probabilities(
    model_dir: str | Path | None,
    texts: Sequence[str],
    *,
    workers: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Posteriors ``(n, labels)`` of the TER model in ``model_dir`` (None: the shipped
    one) for ``texts``."""
    model_dir = _ter_dir(model_dir)
    out = map_rows(
        [{"text": t} for t in texts],
        TERActor,
        constructor_kwargs={"model_dir": str(model_dir), "batch_size": batch_size},
        workers=workers or cluster_cpus(),
        batch_size=batch_size,
        progress=progress,
    )
    return np.asarray([r["probabilities"] for r in out], dtype=np.float32)


def _ter_dir(model_dir: str | Path | None) -> Path:
    from emorl.recognizers.text.model import DEFAULT_TER_DIR

    return Path(model_dir) if model_dir is not None else DEFAULT_TER_DIR


def _ser_dir(model_dir: str | Path | None) -> Path:
    from emorl.recognizers.speech.model import DEFAULT_SER_DIR

    return Path(model_dir) if model_dir is not None else DEFAULT_SER_DIR


def _labels_of(model_dir: str | Path) -> tuple[str, ...]:
    from emorl.artifacts import check_labels

    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return check_labels(config, folder)


class RayTextRecognizer:
    """A text recognizer whose ``probabilities`` run on Ray actors (same labels, same numbers)."""

    def __init__(self, model_dir: str | Path | None, workers: int | None, progress: bool) -> None:
        self.model_dir = _ter_dir(model_dir)
        self.labels = _labels_of(self.model_dir)
        self.workers, self.progress = workers, progress

    def probabilities(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return ter_probabilities(
            self.model_dir,
            texts,
            workers=self.workers,
            batch_size=batch_size,
            progress=self.progress,
        )


def evaluate_ter(
    model_dir: str | Path | None,
    source: Any,
    *,
    confusion_png: Path | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """``run_evaluate_ter`` for the model folder ``model_dir`` (None: shipped) on
    ``source`` (a :class:`emorl.recognizers.text.workflow.CorpusSource`), predicted on Ray
    actors."""
    from emorl.recognizers.text.workflow import run_evaluate_ter

    model = RayTextRecognizer(model_dir, workers, progress)
    return run_evaluate_ter(model, source, confusion_png=confusion_png)


class FeatureActor(BatchActor):
    """One speech feature extractor per actor; rows ``{audio}`` -> ``{frames}`` (``.npy``
    bytes) or ``{reason}`` for a clip that cannot be used."""

    def __init__(self, model_dir: str, cache_dir: str | None) -> None:
        super().__init__()
        from emorl.recognizers.speech.features import SpeechFeatureExtractor
        from emorl.recognizers.speech.model import SpeechEmotionRecognizer

        config = SpeechEmotionRecognizer.from_pretrained(model_dir).config.feature_config()
        self.extractor = SpeechFeatureExtractor(config, cache_dir=cache_dir)

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from emorl.recognizers.speech.workflow import usable_features

        out = []
        for row in rows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = usable_features(self.extractor.frames_file, row["audio"])
            if isinstance(array, str):
                out.append({"frames": b"", "reason": array})
                continue
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            out.append({"frames": buffer.getvalue(), "reason": ""})
        return out


def speech_features(
    model_dir: str | Path | None,
    audio_paths: Sequence[str | Path],
    *,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> list[np.ndarray | str]:
    """The SER model's (None: the shipped one) input frames of each clip, or the reason
    it cannot be used."""
    from emorl.paths import cache_root

    model_dir = _ser_dir(model_dir)
    out = map_rows(
        [{"audio": str(p)} for p in audio_paths],
        FeatureActor,
        constructor_kwargs={
            "model_dir": str(model_dir),
            "cache_dir": str(cache_dir or cache_root("features")),
        },
        workers=workers or cluster_cpus(),
        batch_size=batch_size,
        progress=progress,
    )
    return [
        r["reason"] if r["reason"] else np.load(io.BytesIO(r["frames"]), allow_pickle=False)
        for r in out
    ]


def evaluate_ser(
    model_dir: str | Path | None,
    source: Any,
    *,
    confusion_png: Path | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> dict[str, Any]:
    """``run_evaluate_ser`` for the model folder ``model_dir`` (None: shipped) on
    ``source``, with the features extracted on Ray actors."""
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.speech.workflow import run_evaluate_ser

    model_dir = _ser_dir(model_dir)

    def on_actors(paths: list[Path]) -> list[np.ndarray | str]:
        return speech_features(
            model_dir,
            paths,
            cache_dir=cache_dir,
            workers=workers,
            batch_size=batch_size,
            progress=progress,
        )

    return run_evaluate_ser(
        SpeechEmotionRecognizer.from_pretrained(model_dir),
        source,
        confusion_png=confusion_png,
        progress=progress,
        features=on_actors,
    )
