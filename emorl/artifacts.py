"""Model folders on disk: atomic writes, config files, completeness checks.

Every trained artefact is a folder with ``config.json`` (what made it: model and
training settings, label map, data, metrics, emorl version) and ``model.safetensors``.
Nothing here unpickles: tensors travel as safetensors, checkpoints are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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


# --------------------------------------------------------------------------- whole folders

STAGING_PREFIX = ".staging-"


@contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Write a model folder whole or not at all.

    Yields a fresh temporary sibling of ``folder``; when the block finishes, the sibling
    replaces ``folder`` by rename (an older folder there is moved aside first, then
    removed). An exception, or a kill, leaves ``folder`` as it was (a kill may leave a
    ``.staging-*`` sibling behind, which the next run removes). Files of ``folder`` that
    training keeps between runs (``checkpoint.pt``) are not copied.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f"{STAGING_PREFIX}{folder.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{folder.name}.", dir=folder.parent))
    try:
        yield stage
        os.chmod(stage, 0o777 & ~_umask())
        if folder.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{folder.name}.old.", dir=folder.parent)
            )
            os.replace(folder, old / folder.name)
            os.replace(stage, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, folder)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


# --------------------------------------------------------------------------- reading tensors


def load_safetensors(path: str | Path) -> dict[str, Any]:
    """The tensors of ``path``, or :class:`ModelFolderError` naming the file and the fault."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ModelFolderError(f"{path}: missing")
    size = path.stat().st_size
    if size == 0:
        raise ModelFolderError(f"{path}: empty file (0 bytes); the model folder is damaged")
    try:
        return load_file(str(path))
    except Exception as err:  # SafetensorError, OSError, ...: all mean a damaged file
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelFolderError(
            f"{path}: not a readable safetensors file ({size} bytes: {reason}); "
            "the file is corrupt or truncated: copy or train the model again"
        ) from err


def check_labels(config: Mapping[str, Any], folder: str | Path) -> tuple[str, ...]:
    """Validate ``model.labels`` (distinct names) against ``label2id``; return the labels."""
    where = Path(folder) / CONFIG_NAME
    model = config.get("model")
    if not isinstance(model, Mapping):
        raise ModelFolderError(f"{where}: no 'model' field")
    labels = model.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) and x for x in labels)
    ):
        raise ModelFolderError(
            f"{where}: model.labels must be a list of at least two class names, got {labels!r}"
        )
    if len(set(labels)) != len(labels):
        raise ModelFolderError(f"{where}: model.labels has repeated names: {labels}")
    label2id = config.get("label2id")
    if label2id is not None:
        expected = {label: i for i, label in enumerate(labels)}
        if not isinstance(label2id, Mapping) or dict(label2id) != expected:
            raise ModelFolderError(
                f"{where}: label2id {label2id!r} does not match model.labels {labels} "
                f"(expected {expected}); the label order is the output order of the network"
            )
    return tuple(labels)


def check_head(n_outputs: int, labels: Sequence[str], weights: str | Path, folder: Path) -> None:
    """The classifier's output width must equal the number of ``model.labels``."""
    if n_outputs != len(labels):
        raise ModelFolderError(
            f"{folder / CONFIG_NAME}: model.labels names {len(labels)} classes {list(labels)}, "
            f"but the classifier in {weights} has {n_outputs} outputs"
        )


# --------------------------------------------------------------------------- config contents

MODEL_TYPES = {
    "ter": ("emorl-ter", ["TextEmotionNet"]),
    "ser": ("emorl-ser", ["SERNet"]),
    "fusion": ("emorl-fusion", ["FusionBlock"]),
    "iemonet": ("emorl-iemonet", ["IEmoNet"]),
    "reward-estimator": ("emorl-reward-estimator", ["RewardEstimator"]),
}


def model_type_fields(kind: str, architecture: str | None = None) -> dict[str, Any]:
    """``model_type`` and ``architectures`` as Hugging Face writes them in ``config.json``."""
    model_type, architectures = MODEL_TYPES.get(kind, (f"emorl-{kind}", [kind]))
    return {
        "model_type": model_type,
        "architectures": [architecture] if architecture else list(architectures),
    }


DATA_ROOT_NAME = "shared-data"
DATA_ROOT_ENV = "EMORL_DATA_ROOT"


def data_roots() -> dict[str, Path]:
    """Named folders that data paths in configs are stored relative to.

    ``shared-data``: ``$EMORL_DATA_ROOT`` when set, else ``shared/data`` beside the checkout
    (the layout of the machines the shipped models were trained on).
    """
    env = os.environ.get(DATA_ROOT_ENV)
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return {DATA_ROOT_NAME: root}


def data_reference(corpus: str, path: str | Path) -> dict[str, Any]:
    """How a config records the data a model was made from, without the machine's layout.

    ``{"corpus": "meld", "root": "shared-data", "path": "meld/train_sent_emo.csv"}`` when
    ``path`` lies inside a named data root (see :func:`data_roots`); otherwise the path as
    given, with ``"root": null``.
    """
    resolved = Path(path).expanduser().resolve()
    for name, root in data_roots().items():
        try:
            relative = resolved.relative_to(root.resolve())
        except ValueError:
            continue
        return {"corpus": corpus, "root": name, "path": relative.as_posix()}
    return {"corpus": corpus, "root": None, "path": str(path)}


def source_key(corpus: str, path: str | Path) -> str:
    """``corpus:file-or-folder-name``, one key per corpus and split: ``meld:dev_sent_emo.csv``."""
    return f"{corpus}:{Path(path).name}"
