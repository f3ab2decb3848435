"""The speech reward's posteriors for every reply the simulator can say, computed ahead.

In bimodal mode a reply's posteriors are a function of (text, emotion, voice) with
provided transcripts, and the built-in caller's template language says each of its
10,945 texts in one emotion (:func:`spoken_replies`), so 12 voices make 131,340 clips.
Recognising them on first use costs a clip at a time inside training; here they are
synthesised and recognised in batches, in ``workers`` processes, into the same shard
folder that training reads (:class:`~emorl.envs.shards.PosteriorShards`, the identity
folder of the recognizer the environment builds). A folder already holding some keys is
extended; a run stopped part-way keeps every finished chunk.

    emorl env warm-cache --recognizer bimodal [--out DIR] [--workers N]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from emorl.emotions import FOUR_CLASS
from emorl.paths import cache_root
from emorl.simulator import Scenario, UtteranceBank

__all__ = ["DEFAULT_FOLDER", "spoken_replies", "warm_bimodal_cache"]

DEFAULT_FOLDER = ("bimodal-posteriors",)  # under the cache root, as training uses it
TRANSCRIPTS = "provided"  # the only setting whose transcripts can be known ahead
_RECOGNIZER: Any = None  # one per worker process


def spoken_replies(scenario: Scenario, bank: UtteranceBank) -> list[tuple[str, str]]:
    """Every (text, emotion) the built-in caller (template language) can say, in order."""
    from emorl.simulator.caller_language import INTENTS, TemplateCallerLanguage, scenario_fills

    language = TemplateCallerLanguage(bank)
    out: dict[tuple[str, str], None] = {}
    for intent in INTENTS:
        fills = scenario_fills(scenario, intent)
        for emotion in FOUR_CLASS:
            for text in language.replies(intent, emotion, fills):
                out.setdefault((text, emotion))
    return list(out)


def _recognizer(folder: str) -> Any:
    """The bimodal recognizer ``gym.make("EmoDialogue-v1", recognizer="bimodal",
    transcripts="provided", bimodal_cache=folder)`` builds (the same identity folder)."""
    from emorl.envs.emo_dialogue import make_recognizer

    return make_recognizer("bimodal", 0.1, None, TRANSCRIPTS, 0.06, None, None, folder)


def _start_worker(folder: str) -> None:
    import torch

    global _RECOGNIZER
    torch.set_num_threads(1)
    _RECOGNIZER = _recognizer(folder)


def _recognise(items: Sequence[tuple[str, str, int]], batch_size: int) -> int:
    from emorl.envs.recognition import Reply

    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        _RECOGNIZER.posteriors([Reply(text, emotion, voice) for text, emotion, voice in chunk])
    _RECOGNIZER.flush()
    return len(items)


def warm_bimodal_cache(
    out: str | Path | None = None,
    *,
    scenario: str | Path | None = None,
    bank: str | Path | None = None,
    voices: Sequence[int] | None = None,
    replies: Sequence[tuple[str, str]] | None = None,
    workers: int | None = None,
    chunk: int = 1024,
    batch_size: int = 32,
    progress: bool = True,
) -> dict[str, Any]:
    """Recognise every (text, emotion, voice) not yet in the shard folder ``out`` (default
    ``<cache root>/bimodal-posteriors``); returns counts and the identity folder.
    ``replies``: (text, emotion) pairs to cover instead of :func:`spoken_replies`."""
    from emorl.progress import task_progress
    from emorl.simulator.user import N_VOICES

    folder = str(Path(out) if out is not None else cache_root(*DEFAULT_FOLDER))
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    if chunk < 1 or batch_size < 1:
        raise ValueError("chunk and batch_size must be positive")
    voices = list(range(N_VOICES)) if voices is None else [int(v) for v in voices]
    bad = [v for v in voices if not 0 <= v < N_VOICES]
    if bad:
        raise ValueError(f"voices must be in 0..{N_VOICES - 1}, got {bad}")
    if replies is not None:
        pairs = list(dict.fromkeys((str(t), str(e)) for t, e in replies))
        unknown = sorted({e for _, e in pairs} - set(FOUR_CLASS))
        if unknown:
            raise ValueError(f"replies: unknown emotion(s) {unknown}; one of {FOUR_CLASS}")
    else:
        pairs = spoken_replies(Scenario.load(scenario), UtteranceBank.load(bank))
    held = _recognizer(folder).cache  # what the folder holds (loads the model once)
    held.refresh()  # the recognizer may be this process's shared one, read earlier
    todo = [
        (text, emotion, voice)
        for voice in voices
        for text, emotion in pairs
        if (text, emotion, voice, text) not in held
    ]
    identity = str(held.folder)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
    with task_progress(progress) as bar:
        task = bar.add_task("speech posteriors", total=len(todo))
        if chunks:
            context = get_context("spawn")  # torch and onnxruntime do not survive fork
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker, initargs=(folder,)
            ) as pool:
                futures = [pool.submit(_recognise, c, batch_size) for c in chunks]
                for future in as_completed(futures):
                    bar.advance(task, future.result())
    return {
        "replies": len(pairs),
        "voices": len(voices),
        "clips": len(pairs) * len(voices),
        "computed": len(todo),
        "folder": identity,
        "workers": workers,
    }
