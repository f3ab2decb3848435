"""SHA-256 fingerprints: of files, folders, bytes, text and JSON-able settings.

Every content key in emorl (feature and transcript caches, model weights pinned in
``config.json``, the shipped posteriors bank, experiment names) is one of these hex digests,
so the same content always gets the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "file_blocks",
    "sha256_bytes",
    "sha256_copy",
    "sha256_file",
    "sha256_folder",
    "sha256_json",
    "sha256_text",
]

BLOCK_SIZE = 1 << 20


def file_blocks(path: str | Path, block_size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """The bytes of ``path`` in blocks (hash or copy a large file without holding it)."""
    with Path(path).open("rb") as handle:
        yield from iter(lambda: handle.read(block_size), b"")


def sha256_bytes(*parts: bytes) -> str:
    """Hex SHA-256 of the concatenated ``parts``."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of ``text`` in UTF-8."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_json(obj: Any) -> str:
    """Hex SHA-256 of ``obj`` as JSON with sorted keys (``str`` for what JSON lacks)."""
    return sha256_text(json.dumps(obj, sort_keys=True, default=str))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    for block in file_blocks(path):
        digest.update(block)
    return digest.hexdigest()


def sha256_copy(sources: Iterable[str | Path], out: BinaryIO) -> str:
    """Write the files ``sources`` one after another to ``out``; hex SHA-256 of what was written."""
    digest = hashlib.sha256()
    for source in sources:
        for block in file_blocks(source):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def sha256_folder(folder: str | Path) -> str:
    """Hex SHA-256 over the names and contents of a folder's files (not subfolders), by name."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file():
            continue
        digest.update(path.name.encode() + b"\0")
        for block in file_blocks(path):
            digest.update(block)
    return digest.hexdigest()
