"""Model folders on disk: atomic writes, config files, completeness checks.

Every trained artefact is a folder with ``config.json`` (what made it: model and
training settings, label map, data, metrics, emorl version) and ``model.safetensors``.
Nothing here unpickles: tensors travel as safetensors, checkpoints are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelFolderError(FileNotFoundError):
    """A model folder is missing, incomplete or of the wrong kind."""


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def require_model_folder(
    folder: str | Path, kind: str, files: Iterable[str] = (CONFIG_NAME, WEIGHTS_NAME)
) -> dict[str, Any]:
    """Check that ``folder`` holds a complete ``kind`` model and return its config."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{kind} model folder not found: {folder}")
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(
            f"{kind} model folder {folder} is incomplete: missing {', '.join(missing)}"
        )
    try:
        config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelFolderError(f"{folder / CONFIG_NAME}: not valid JSON ({err})") from err
    found = config.get("type")
    if found != kind:
        raise ModelFolderError(f"{folder} holds a {found!r} model, expected {kind!r}")
    return config
