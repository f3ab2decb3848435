"""Transcribe many clips with a progress bar and a cache; transcribe a labelled corpus.

The cache lives under ``$EMORL_CACHE`` or ``~/.cache/emorl`` (:func:`emorl.paths.cache_root`),
in ``asr/<model fingerprint>/<ab>/<audio sha256>.json``: one JSON transcript per clip, keyed
by the SHA-256 of the audio file's bytes and by the recognizer's fingerprint (model files and
decoding settings), written atomically. A renamed or moved file is found again; an edited
file or another model misses. ``settings.json`` beside the entries names the
model. A cached transcript keeps the processing time of the run that made it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from emorl.artifacts import write_json
from emorl.asr.transcriber import Transcriber, Transcript
from emorl.audio import AudioError
from emorl.data.utterance import Corpus, Utterance
from emorl.fingerprint import sha256_file
from emorl.paths import cache_root
from emorl.progress import task_progress

__all__ = [
    "BatchResult",
    "TranscriptCache",
    "transcribe_corpus",
    "transcribe_files",
]

OnError = Literal["raise", "skip"]


class TranscriptCache:
    """Transcripts on disk keyed by audio content and recognizer fingerprint."""

    def __init__(self, root: str | Path, transcriber: Transcriber) -> None:
        self.folder = Path(root) / transcriber.fingerprint()[:24]
        self.model = transcriber.name

    def key(self, audio_path: str | Path) -> str:
        """SHA-256 of the file's bytes."""
        return sha256_file(audio_path)

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, audio_path: str | Path) -> Transcript | None:
        """The cached transcript of this file's content, or ``None``.

        An unreadable entry (e.g. from an older version) counts as a miss.
        """
        entry = self._entry(self.key(audio_path))
        if not entry.is_file():
            return None
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            found = Transcript.from_dict(data)
        except (ValueError, KeyError, TypeError):
            return None
        return replace(found, source=str(audio_path), extra={**found.extra, "cached": True})

    def put(self, audio_path: str | Path, transcript: Transcript) -> None:
        """Store ``transcript`` for this file's content (atomic write)."""
        settings = self.folder / "settings.json"
        if not settings.is_file():
            write_json(settings, {"model": self.model})
        write_json(self._entry(self.key(audio_path)), transcript.to_dict())


@dataclass
class BatchResult:
    """Transcripts by item key, and the items that failed with why."""

    transcripts: dict[str, Transcript] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    cached: int = 0


def transcribe_files(
    items: Sequence[tuple[str, str | Path]],
    transcriber: Transcriber,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    errors: OnError = "raise",
    progress: bool = True,
    description: str = "Transcribing",
) -> BatchResult:
    """Transcribe ``(key, audio path)`` pairs in order, with a progress bar.

    ``use_cache`` reads and fills the cache in ``cache_dir`` (default ``asr/`` under
    :func:`emorl.paths.cache_root`).
    ``errors="raise"`` stops at the first unreadable or unusable clip (the error names the
    file); ``"skip"`` records ``failed[key] = reason`` and goes on.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    cache = TranscriptCache(cache_dir or cache_root("asr"), transcriber) if use_cache else None
    result = BatchResult()
    with task_progress(progress) as bar:
        task = bar.add_task(description, total=len(items))
        for key, audio_path in items:
            try:
                transcript = cache.get(audio_path) if cache is not None else None
                if transcript is not None:
                    result.cached += 1
                else:
                    transcript = transcriber.transcribe(audio_path)
                    if cache is not None:
                        cache.put(audio_path, transcript)
                result.transcripts[key] = transcript
            except (AudioError, OSError) as err:
                if errors == "raise":
                    raise
                result.failed[key] = str(err)
            bar.advance(task)
    return result


def transcribe_corpus(
    corpus: Corpus,
    transcriber: Transcriber,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    errors: OnError = "skip",
    progress: bool = True,
    files: Callable[..., BatchResult] | None = None,
) -> Corpus:
    """A copy of ``corpus`` whose texts are automatic transcripts of its audio.

    Each utterance keeps its label, speaker and dialogue; ``text`` becomes the transcript and
    ``extra`` gains ``reference_text`` (the corpus text, if any), ``asr_model`` and
    ``asr_confidence``. Utterances without audio are skipped (``"no audio"``), and with
    ``errors="skip"`` so are clips that cannot be transcribed (``"asr: <reason>"``), counted
    in ``skipped``. This is how a text recognizer is trained or evaluated on recognised
    speech (the paper's "-A" setting). ``files`` transcribes the clips (default
    :func:`transcribe_files`, in this process; :func:`emorl.scale.asr.transcribe_files`
    maps them through Ray actors with the same signature and cache).
    """
    skipped: Counter[str] = Counter(corpus.skipped)
    with_audio: list[Utterance] = []
    for u in corpus.utterances:
        if u.audio_path is None:
            skipped["no audio"] += 1
        else:
            with_audio.append(u)
    batch = (files or transcribe_files)(
        [(u.id, u.audio_path) for u in with_audio if u.audio_path is not None],
        transcriber,
        cache_dir=cache_dir,
        use_cache=use_cache,
        errors=errors,
        progress=progress,
        description=f"Transcribing {corpus.name}",
    )
    for reason in batch.failed.values():
        skipped[f"asr: {reason.split(': ', 1)[-1]}"] += 1
    utterances = []
    for u in with_audio:
        transcript = batch.transcripts.get(u.id)
        if transcript is None:
            continue
        extra = {
            **u.extra,
            "reference_text": u.text,
            "asr_model": transcript.model,
            "asr_confidence": transcript.confidence,
        }
        utterances.append(replace(u, text=transcript.text, extra=extra))
    return Corpus(corpus.name, corpus.labels, utterances, skipped)
