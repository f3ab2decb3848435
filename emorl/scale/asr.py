"""Corpus transcription on Ray Data: actors that load Whisper once, the same cache.

:func:`transcribe_files` has the signature and result of
:func:`emorl.asr.batch.transcribe_files` plus ``workers``/``batch_size``; each actor runs
that very function on its rows, so the transcripts land in (and are read from) the same
on-disk cache, ``asr/<model fingerprint>/<ab>/<audio sha256>.json``. The audio files and
the cache folder must be reachable at the same paths on every node (a shared file
system on a real cluster; ``cache_dir=None`` means each node's own default cache).
:func:`transcribe_corpus` is :func:`emorl.asr.batch.transcribe_corpus` with its clips
transcribed this way; write its result with :func:`emorl.asr.manifest.write_corpus_manifest`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from emorl.asr import batch as local
from emorl.asr.batch import BatchResult, OnError
from emorl.asr.transcriber import Transcriber, Transcript
from emorl.data.utterance import Corpus
from emorl.scale.cluster import cluster_cpus
from emorl.scale.data import BatchActor, map_rows

__all__ = ["transcribe_corpus", "transcribe_files"]


class TranscribeActor(BatchActor):
    """Holds one transcriber (loaded here, once) and transcribes rows ``{key, audio}``."""

    def __init__(self, transcriber: Transcriber, cache_dir: str | None, use_cache: bool) -> None:
        super().__init__()
        self.transcriber = transcriber
        load = getattr(transcriber, "load", None)
        if callable(load):
            load()
        self.cache_dir, self.use_cache = cache_dir, use_cache

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from emorl.audio import AudioError

        out = []
        for row in rows:
            result = {"transcript": "", "cached": False, "kind": "", "source": "", "error": ""}
            try:
                done = local.transcribe_files(
                    [(row["key"], row["audio"])],
                    self.transcriber,
                    cache_dir=self.cache_dir,
                    use_cache=self.use_cache,
                    errors="raise",
                    progress=False,
                )
            except AudioError as err:
                result.update(kind="audio", source=err.source, error=err.problem)
            except OSError as err:
                result.update(kind="os", error=str(err))
            else:
                found = done.transcripts[row["key"]]
                result.update(transcript=json.dumps(found.to_dict()), cached=bool(done.cached))
            out.append(result)
        return out


def transcribe_files(
    items: Sequence[tuple[str, str | Path]],
    transcriber: Transcriber,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    errors: OnError = "raise",
    progress: bool = True,
    description: str = "Transcribing",
    workers: int | None = None,
    batch_size: int = 4,
) -> BatchResult:
    """:func:`emorl.asr.batch.transcribe_files` on ``workers`` Ray actors (default: one
    per CPU of the cluster). Ray must be connected (:func:`emorl.scale.ray_session`).

    With ``errors="raise"`` every clip is still tried; the first failure in input order is
    then raised as the local function would have (:class:`emorl.audio.AudioError` naming
    the file, or :class:`OSError`).
    """
    from emorl.audio import AudioError

    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    del description  # Ray Data draws its own progress bar
    rows = [{"key": str(key), "audio": str(path)} for key, path in items]
    out = map_rows(
        rows,
        TranscribeActor,
        constructor_kwargs={
            "transcriber": transcriber,
            "cache_dir": None if cache_dir is None else str(cache_dir),
            "use_cache": use_cache,
        },
        workers=workers or cluster_cpus(),
        batch_size=batch_size,
        progress=progress,
    )
    result = BatchResult()
    for row in out:
        key = row["key"]
        if row["kind"]:
            if errors == "raise":
                if row["kind"] == "audio":
                    raise AudioError(row["source"], row["error"])
                raise OSError(row["error"])
            message = f"{row['source']}: {row['error']}" if row["kind"] == "audio" else row["error"]
            result.failed[key] = message
            continue
        result.transcripts[key] = Transcript.from_dict(json.loads(row["transcript"]))
        result.cached += int(row["cached"])
    return result


def transcribe_corpus(
    corpus: Corpus,
    transcriber: Transcriber,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    errors: OnError = "skip",
    progress: bool = True,
    workers: int | None = None,
    batch_size: int = 4,
) -> Corpus:
    """:func:`emorl.asr.batch.transcribe_corpus` with the clips transcribed on Ray actors."""
    return local.transcribe_corpus(
        corpus,
        transcriber,
        cache_dir=cache_dir,
        use_cache=use_cache,
        errors=errors,
        progress=progress,
        files=partial(transcribe_files, workers=workers, batch_size=batch_size),
    )
