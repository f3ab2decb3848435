"""A posteriors cache on disk that many processes fill together, one shard file each.

The speech reward recognises the same reply in the same voice many times over a study:
the clip, and so its posteriors, are a function of (text, emotion, voice, transcript).
:class:`PosteriorShards` keeps those posteriors in a folder of ``.npz`` shards (no pickle),
one per flush of one process, written atomically: workers and trials never write the same
file, a reader never sees half of one, and an interrupted run keeps what it flushed. A
folder belongs to one recognizer identity (``model_id``, stored in every shard); shards
of another identity are refused by name, so a changed model never reads stale posteriors.
"""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emorl.artifacts import atomic_write
from emorl.paths import cache_root

__all__ = ["Key", "PosteriorShards", "with_bimodal_cache"]

#: (reply text, emotion, voice, transcript; None: the model transcribed)
Key = tuple[str, str, int, "str | None"]


class PosteriorShards:
    """Posteriors by :data:`Key`, read from and flushed to ``folder/<model_id>/``.

    ``flush_every`` new entries are written as one shard automatically (0: only on
    :meth:`flush`, which also runs at interpreter exit); each flush also reads the shards
    other processes wrote since.
    """

    def __init__(
        self, folder: str | Path, model_id: str, *, width: int = 4, flush_every: int = 2000
    ) -> None:
        if not model_id or "/" in model_id or model_id.startswith("."):
            raise ValueError(f"model_id must be a plain folder name, got {model_id!r}")
        self.folder = Path(folder) / model_id
        self.model_id = model_id
        self.width = width
        self.flush_every = flush_every
        self.entries: dict[Key, np.ndarray] = {}
        self._new: list[Key] = []
        self._read: set[str] = set()
        self._tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._count = 0
        self.refresh()
        atexit.register(self.flush)

    def __contains__(self, key: Key) -> bool:
        return key in self.entries

    def __getitem__(self, key: Key) -> np.ndarray:
        return self.entries[key]

    def __len__(self) -> int:
        return len(self.entries)

    def __setitem__(self, key: Key, row: np.ndarray) -> None:
        row = np.asarray(row, dtype=np.float64)
        if row.shape != (self.width,) or not np.all(np.isfinite(row)):
            raise ValueError(f"posteriors row must be {self.width} finite numbers, got {row}")
        if key not in self.entries:
            self._new.append(key)
        self.entries[key] = row
        if self.flush_every and len(self._new) >= self.flush_every:
            self.flush()

    def shards(self) -> Iterator[Path]:
        """The shard files in the folder, by name."""
        if self.folder.is_dir():
            yield from sorted(self.folder.glob("shard-*.npz"))

    def refresh(self) -> int:
        """Read the shards not read yet (other processes' flushes); entries added."""
        added = 0
        for path in self.shards():
            if path.name in self._read:
                continue
            added += self._load(path)
            self._read.add(path.name)
        return added

    def flush(self) -> Path | None:
        """Write the entries added since the last flush as one shard; then :meth:`refresh`."""
        path = None
        if self._new:
            keys, self._new = self._new, []
            self._count += 1
            path = self.folder / f"shard-{self._tag}-{self._count:05d}.npz"
            rows = np.stack([self.entries[k] for k in keys])

            def write(tmp: Path) -> None:
                with tmp.open("wb") as handle:
                    np.savez_compressed(
                        handle,
                        model=np.array(self.model_id),
                        texts=np.array([k[0] for k in keys], dtype=str),
                        emotions=np.array([k[1] for k in keys], dtype=str),
                        voices=np.array([k[2] for k in keys], dtype=np.int64),
                        transcripts=np.array([k[3] or "" for k in keys], dtype=str),
                        transcribed=np.array([k[3] is None for k in keys], dtype=bool),
                        posteriors=rows,
                    )

            atomic_write(path, write)
            self._read.add(path.name)
        self.refresh()
        return path

    def _load(self, path: Path) -> int:
        try:
            with np.load(path, allow_pickle=False) as data:
                model = str(data["model"])
                columns = [
                    data[name].tolist()
                    for name in ("texts", "emotions", "voices", "transcripts", "transcribed")
                ]
                rows = np.asarray(data["posteriors"], dtype=np.float64)
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise ValueError(
                f"{path}: not a readable posteriors shard ({type(err).__name__}: {err}); "
                "delete the file to recompute its entries"
            ) from None
        if model != self.model_id:
            raise ValueError(f"{path}: shard of recognizer {model!r}, not {self.model_id!r}")
        n = len(columns[0])
        if rows.shape != (n, self.width) or any(len(c) != n for c in columns):
            raise ValueError(f"{path}: malformed shard (posteriors {rows.shape}, {n} keys)")
        if not np.all(np.isfinite(rows)):
            raise ValueError(f"{path}: shard has non-finite posteriors")
        texts, emotions, voices, transcripts, transcribed = columns
        for i in range(n):
            heard = None if transcribed[i] else transcripts[i]
            # a key known here keeps its value (two writers may differ in the last digits)
            self.entries.setdefault((texts[i], emotions[i], int(voices[i]), heard), rows[i])
        return n


def with_bimodal_cache(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """EmoDialogue kwargs with the machine's shared posteriors folder
    (``<cache root>/bimodal-posteriors``) when they ask for the shipped IEmoNet with
    provided or noisy transcripts and name no ``bimodal_cache`` of their own."""
    kwargs = dict(env_kwargs)
    shipped = (
        kwargs.get("recognizer") == "bimodal"
        and kwargs.get("bimodal_model") is None
        and kwargs.get("transcripts", "noisy") != "asr"
    )
    if shipped and "bimodal_cache" not in kwargs:
        kwargs["bimodal_cache"] = str(cache_root("bimodal-posteriors"))
    return kwargs
