"""Robustness of model folders: whole-or-nothing writes, damaged files, label maps,
config contents (data roots, skipped counts, model_type), model cards and the device."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from emorl.artifacts import (
    ModelFolderError,
    data_reference,
    source_key,
    staged_folder,
)
from emorl.cli import main
from emorl.recognizers.text.model import TextEmotionRecognizer
from emorl.recognizers.text.training import TERTrainingConfig
from emorl.recognizers.training import load_checkpoint, resolve_device

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import (  # noqa: E402
    flat,
    four_class_train_args,
    manifest_rows,
    read_config,
    run_main,
    tiny_model_args,
    write_jsonl,
)

MODELS = Path(__file__).resolve().parents[1] / "emorl" / "models"
SHIPPED = ("ter-dialogue-4class", "ser-ravdess-4class", "iemonet-4class")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = manifest_rows() + [{"text": "i am so happy", "label": "surprise", "dialogue": "dx"}]
    return write_jsonl(tmp_path_factory.mktemp("robust-data") / "train.jsonl", rows)


@pytest.fixture(scope="module")
def trained(tiny_encoder: Path, manifest: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("robust-models") / "ter"
    rc, stdout, stderr = run_main(four_class_train_args(manifest, out, tiny_encoder))
    assert rc == 0, stderr
    return out, stdout, stderr


def copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).write_bytes(f.read_bytes())
    return dst


# --- row 1: a model folder is written whole or not at all --------------------------------


def test_kill_between_weights_and_config_keeps_the_old_model(
    trained, tiny_encoder: Path, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = copy_folder(trained[0], tmp_path / "ter")
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    import emorl.recognizers.text.model as ter_module

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after model.safetensors was written

    monkeypatch.setattr(ter_module, "write_json", killed)
    argv = four_class_train_args(manifest, out, tiny_encoder)
    rc, _, _ = run_main([*argv, "--seed", "7"])
    assert rc == 130
    after = {f.name: f.read_bytes() for f in out.iterdir() if f.name != "checkpoint.pt"}
    assert after == before  # old weights, old config, old metrics and PNGs, nothing mixed
    assert (out / "checkpoint.pt").is_file()  # the finished training resumes on a rerun
    assert not list(tmp_path.glob(".staging-*"))  # no half folder left behind
    monkeypatch.undo()
    TextEmotionRecognizer.from_pretrained(out)


def test_staged_folder_replaces_whole_or_leaves_as_was(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(target) as stage:
        (stage / "a.txt").write_text("new")
        raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "old"
    with staged_folder(target) as stage:
        (stage / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_resumed_run_records_its_true_time_and_says_so(
    tiny_encoder: Path,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "resumed"
    argv = four_class_train_args(manifest, out, tiny_encoder) + ["--checkpoint-every", "1"]
    real_step = torch.optim.Adam.step
    calls: list[int] = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", step_then_interrupt)
        assert main(argv) == 130
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    before = json.loads(saved["history"])["_seconds"]
    assert before > 0
    capsys.readouterr()
    assert main(argv) == 0
    err = flat(capsys.readouterr().err)
    assert "resumed from checkpoint at epoch 0 step 2" in err
    training = read_config(out)["training"]
    assert training["resumed"]["epoch"] == 0 and training["resumed"]["step"] == 2
    assert training["resumed"]["seconds_before"] == pytest.approx(before)
    assert training["seconds"] >= round(before, 1)


# --- row 2: damaged weights and checkpoints ---------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_weights_are_a_clear_error(
    trained, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_folder(trained[0], tmp_path / "ter")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(
        {"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"\x00" * 64}[damage]
    )
    with pytest.raises(ModelFolderError, match="model.safetensors"):
        TextEmotionRecognizer.from_pretrained(folder)
    rc = main(["predict", "--model", str(folder), "i am so happy"])
    err = "".join(capsys.readouterr().err.split())  # rich wraps long paths anywhere
    assert rc == 2 and "model.safetensors" in err and "Traceback" not in err
    assert "weights_only" not in err


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_damaged_checkpoint_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save({"key": "k", "params": {}, "optimizer": {}, "epoch": 0, "step": 1}, path)
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    with pytest.raises(ModelFolderError, match="checkpoint.pt") as caught:
        load_checkpoint(path, "k")
    assert "weights_only" not in str(caught.value)
    assert "delete it" in str(caught.value)


def test_damaged_checkpoint_in_cli_training(
    tiny_encoder: Path, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    rc = main(four_class_train_args(manifest, out, tiny_encoder))
    err = "".join(capsys.readouterr().err.split())
    assert rc == 2 and "checkpoint.pt" in err and "weights_only" not in err


# --- row 3: label maps are validated on load ---------------------------------------------


def _edit_config(folder: Path, edit) -> None:
    config = read_config(folder)
    edit(config)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_reordered_labels_against_label2id(trained, tmp_path: Path) -> None:
    folder = copy_folder(trained[0], tmp_path / "ter")
    _edit_config(folder, lambda c: c["model"].update(labels=["happy", "neutral", "sad", "angry"]))
    with pytest.raises(ModelFolderError, match="label2id"):
        TextEmotionRecognizer.from_pretrained(folder)


def test_three_labels_for_a_four_class_head(trained, tmp_path: Path) -> None:
    folder = copy_folder(trained[0], tmp_path / "ter")

    def three(config: dict) -> None:
        config["model"]["labels"] = ["neutral", "happy", "sad"]
        config["label2id"] = {"neutral": 0, "happy": 1, "sad": 2}

    _edit_config(folder, three)
    with pytest.raises(ModelFolderError, match=r"model\.labels names 3 classes.*4 outputs"):
        TextEmotionRecognizer.from_pretrained(folder)


def test_three_labels_for_a_four_class_ser_and_fusion(tmp_path: Path) -> None:
    from emorl.recognizers.fusion.model import FusionBlock
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer

    ser = copy_folder(MODELS / "ser-ravdess-4class", tmp_path / "ser")
    fusion = copy_folder(MODELS / "iemonet-4class", tmp_path / "fusion")

    def three(config: dict) -> None:
        config["model"]["labels"] = ["neutral", "happy", "sad"]
        config["label2id"] = {"neutral": 0, "happy": 1, "sad": 2}

    _edit_config(ser, three)
    with pytest.raises(ModelFolderError, match=r"model\.labels"):
        SpeechEmotionRecognizer.from_pretrained(ser)
    _edit_config(fusion, three)
    with pytest.raises(ModelFolderError, match=r"model\.labels"):
        FusionBlock.from_pretrained(fusion, kind="iemonet")
    _edit_config(fusion, lambda c: c["model"].update(labels=["happy", "happy"]))
    with pytest.raises(ModelFolderError, match="repeated"):
        FusionBlock.from_pretrained(fusion, kind="iemonet")


# --- row 13: shipped configs hold only what code writes, data paths relative to a root ---


def _data_entries(config: dict) -> list[dict]:
    data = config.get("data", {})
    entries = [*data.get("train", []), *data.get("validation", []), *data.get("texts", [])]
    if "speech" in data:
        entries.append(data["speech"])
    return entries


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_data_paths_are_relative_to_a_named_root(name: str) -> None:
    config = json.loads((MODELS / name / "config.json").read_text())
    entries = _data_entries(config)
    assert entries
    for entry in entries:
        assert entry["root"] == "shared-data", entry
        assert not Path(entry["path"]).is_absolute() and ".." not in entry["path"]


def test_shipped_configs_hold_no_hand_pasted_blocks() -> None:
    ser = json.loads((MODELS / "ser-ravdess-4class" / "config.json").read_text())
    ter = json.loads((MODELS / "ter-dialogue-4class" / "config.json").read_text())
    assert "ravdess_speaker_cv5_same_recipe" not in ser.get("metrics", {})
    assert set(ter["metrics"]) == {"validation"}  # what run_train_ter writes
    written = {*asdict(TERTrainingConfig()), "seconds", "examples_per_second", "history"}
    assert set(ter["training"]) == written | {"best_epoch"}


def test_data_reference_names_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMORL_DATA_ROOT", str(tmp_path))
    (tmp_path / "meld").mkdir()
    ref = data_reference("meld", tmp_path / "meld" / "train_sent_emo.csv")
    assert ref == {"corpus": "meld", "root": "shared-data", "path": "meld/train_sent_emo.csv"}
    outside = data_reference("meld", "/somewhere/else.csv")
    assert outside["root"] is None


def test_training_writes_data_paths_relative_to_the_root(
    trained, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = read_config(trained[0])
    (entry,) = config["data"]["train"]
    assert entry["corpus"] == "manifest" and "root" in entry
    monkeypatch.setenv("EMORL_DATA_ROOT", str(manifest.parent))
    assert data_reference("manifest", manifest)["path"] == "train.jsonl"


@pytest.mark.parametrize("name", SHIPPED)
def test_model_cards_name_the_commands(name: str) -> None:
    card = (MODELS / name / "README.md").read_text()
    assert "emorl " in card and "```bash" in card


# --- row 14: skipped counts keyed by corpus and split -----------------------------------


def test_skipped_is_keyed_by_corpus_and_split(
    tiny_encoder: Path, manifest: Path, tmp_path: Path
) -> None:
    val_rows = [
        {"text": "i am sad", "label": "sad", "dialogue": "v1"},
        {"text": "i hate this", "label": "angry", "dialogue": "v1"},
        {"text": "i am glad", "label": "happy", "dialogue": "v2"},
        {"text": "call me", "label": "neutral", "dialogue": "v2"},
        {"text": "i am so happy", "label": "fear", "dialogue": "v2"},
        {"text": "this is it", "label": "fear", "dialogue": "v2"},
    ]
    val = write_jsonl(tmp_path / "val.jsonl", val_rows)
    out = tmp_path / "m"
    argv = ["train", "ter", "--corpus", "manifest", "--data", str(manifest)]
    argv += ["--val-corpus", "manifest", "--val-data", str(val), "--epochs", "1"]
    argv += ["--batch-size", "8", "--out", str(out), *tiny_model_args(tiny_encoder)]
    rc, _, stderr = run_main(argv)
    assert rc == 0, stderr
    skipped = read_config(out)["data"]["skipped"]
    assert skipped == {
        "manifest:train.jsonl": {"label 'surprise' not in four-class set": 1},
        "manifest:val.jsonl": {"label 'fear' not in four-class set": 2},
    }
    assert source_key("meld", "x/dev_sent_emo.csv") == "meld:dev_sent_emo.csv"


def test_shipped_ter_skipped_counts_per_split() -> None:
    skipped = json.loads((MODELS / "ter-dialogue-4class" / "config.json").read_text())["data"][
        "skipped"
    ]
    assert set(skipped) == {
        "meld:train_sent_emo.csv",
        "dailydialog:train",
        "meld:dev_sent_emo.csv",
        "dailydialog:validation",
    }
    assert skipped["meld:dev_sent_emo.csv"]["label 'surprise' not in four-class set"] == 150


# --- row 15: skipped utterances in the human output -------------------------------------


def test_train_and_evaluate_summarise_what_was_skipped(
    trained, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, train_err = trained
    assert "skipped 1 utterance(s): manifest:train.jsonl: 1 label 'surprise'" in flat(train_err)
    argv = ["evaluate", "ter", "--model", str(trained[0]), "--corpus", "manifest"]
    assert main([*argv, "--data", str(manifest)]) == 0
    err = flat(capsys.readouterr().err)
    assert "skipped 1 utterance(s): manifest: 1 label 'surprise' not in four-class set" in err


def test_skipped_summary_of_speech_evaluation() -> None:
    from emorl.cli.common import skipped_summary

    line = skipped_summary({"ravdess": {"unusable audio: silent": 2, "label 'calm'": 1}})
    assert line == "skipped 3 utterance(s): ravdess: 2 unusable audio: silent, 1 label 'calm'"
    assert skipped_summary({"ravdess": {}}) is None


def test_skipped_line_prints_source_names_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    """A source such as ``dailydialog:train`` next to ``: 1600`` is not read as an emoji code."""
    from emorl.cli.common import print_skipped

    print_skipped({"dailydialog:train": {"label 'surprise' [x]": 3}, "meld:dev": {"fear": 1}})
    err = flat(capsys.readouterr().err)
    assert "dailydialog:train: 3 label 'surprise' [x]; meld:dev: 1 fear" in err


# --- row 16: model_type / architectures, model card metadata -----------------------------


def test_written_configs_carry_model_type(trained) -> None:
    config = read_config(trained[0])
    assert config["model_type"] == "emorl-ter"
    assert config["architectures"] == ["TextEmotionNet"]
    assert list(config)[:3] == ["type", "model_type", "architectures"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_carry_model_type(name: str) -> None:
    config = json.loads((MODELS / name / "config.json").read_text())
    assert config["model_type"] == f"emorl-{config['type']}"
    assert isinstance(config["architectures"], list) and config["architectures"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_cards_start_with_metadata(name: str) -> None:
    import yaml

    card = (MODELS / name / "README.md").read_text()
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "emorl"
    assert meta["license"] and meta["datasets"] and meta["metrics"]


def test_iemonet_save_writes_model_type(tmp_path: Path) -> None:
    from emorl.recognizers.iemonet import IEmoNet

    model = IEmoNet.from_pretrained(asr=None)
    folder = model.save_pretrained(tmp_path / "net")
    config = read_config(folder)
    assert config["type"] == "iemonet" and config["model_type"] == "emorl-iemonet"
    IEmoNet.from_pretrained(folder, asr=None)


# --- row 17: the torch device ------------------------------------------------------------


def test_training_on_cpu_by_default(tiny_encoder: Path) -> None:
    from emorl.recognizers.text.model import TERConfig
    from emorl.recognizers.text.training import train_ter

    assert TERTrainingConfig().device == "cpu"
    model = TextEmotionRecognizer.create(
        TERConfig(encoder=str(tiny_encoder), hidden_size=16, frozen_layers=1, max_length=16)
    )
    training = TERTrainingConfig(epochs=1, batch_size=4, device="cpu", checkpoint_every=0)
    result = train_ter(model, ["i am happy", "i am sad"] * 2, [1, 2] * 2, training, progress=False)
    assert len(result.history["train_loss"]) == 1
    assert next(model.net.parameters()).device.type == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        TERTrainingConfig(device="tpu")


@pytest.mark.parametrize("kind", ["ter", "ser", "fusion"])
def test_cuda_asked_but_unavailable(
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "m"
    if kind == "fusion":
        argv = ["train", "fusion", "--speech-data", str(tmp_path), "--text-corpus", "meld"]
        argv += ["--text-data", str(tmp_path / "x.csv"), "--out", str(out)]
    else:
        argv = ["train", kind, "--corpus", "manifest", "--data", str(tmp_path / "x.jsonl")]
        argv += ["--out", str(out)]
    rc = main([*argv, "--device", "cuda"])
    err = flat(capsys.readouterr().err)
    assert rc == 2 and "CUDA is not available" in err and "--device cpu" in err
    assert not out.exists()
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
