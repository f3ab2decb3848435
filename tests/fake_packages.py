"""Installed-distribution layouts for tests of the split-package model installs."""

from __future__ import annotations

import base64
import hashlib
from importlib import metadata
from pathlib import Path


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def fake_dist(site: Path, name: str, files: dict[str, bytes]) -> metadata.Distribution:
    """An installed-distribution layout: ``pkg/data/...`` and a dist-info with a RECORD."""
    package = name.replace("-", "_")
    info = site / f"{package}-1.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
    record = []
    for rel, data in {f"{package}/__init__.py": b"", **files}.items():
        path = site / (rel if rel.endswith(".py") else f"{package}/data/{rel}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        record.append(f"{path.relative_to(site)},{_record_hash(data)},{len(data)}")
    record.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return metadata.PathDistribution(info)
