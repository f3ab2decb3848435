"""Score a recognizer on a speech manifest: corpus WER and real-time factor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emorl.asr.batch import OnError, transcribe_files
from emorl.asr.manifest import SpeechItem
from emorl.asr.transcriber import Transcriber
from emorl.asr.wer import ErrorCounts, word_errors

__all__ = ["evaluate_transcriber"]


def evaluate_transcriber(
    items: Sequence[SpeechItem],
    transcriber: Transcriber,
    *,
    use_cache: bool = False,
    cache_dir: str | Path | None = None,
    errors: OnError = "raise",
    progress: bool = True,
) -> dict[str, Any]:
    """Transcribe every item and score it against its reference ``text``.

    Returns ``n`` (clips scored), ``wer`` (corpus WER on normalised text, see
    :mod:`emorl.asr.wer`), ``rtf`` (total processing time / total audio duration),
    ``words``, ``substitutions``, ``deletions``, ``insertions``, ``audio_seconds``,
    ``processing_seconds``, ``model``, ``cached`` and ``failed`` (``{id: reason}`` with
    ``errors="skip"``). The cache is off by default so that ``rtf`` is measured now.
    """
    missing = [item.id for item in items if item.text is None]
    if missing:
        raise ValueError(f"no reference text for {len(missing)} items, e.g. {missing[0]!r}")
    batch = transcribe_files(
        [(item.id, item.audio_path) for item in items],
        transcriber,
        cache_dir=cache_dir,
        use_cache=use_cache,
        errors=errors,
        progress=progress,
        description="Recognising",
    )
    counts = ErrorCounts()
    audio = processing = 0.0
    per_item = []
    for item in items:
        transcript = batch.transcripts.get(item.id)
        if transcript is None:
            continue
        found = word_errors(item.text or "", transcript.text)
        counts = counts + found
        audio += transcript.duration
        processing += transcript.processing_seconds
        per_item.append(
            {
                "id": item.id,
                "reference": item.text,
                "hypothesis": transcript.text,
                **found.to_dict(),
            }
        )
    return {
        "n": len(per_item),
        **counts.to_dict(),
        "rtf": processing / audio if audio > 0 else None,
        "audio_seconds": audio,
        "processing_seconds": processing,
        "model": transcriber.name,
        "cached": batch.cached,
        "failed": batch.failed,
        "items": per_item,
    }
