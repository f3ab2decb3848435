"""The ``emorl`` command line: train, evaluate and predict on tiny data with a tiny encoder."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from emorl.cli import main

FOUR = ["neutral", "happy", "sad", "angry"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Six texts per class, every word in the tiny encoder's vocabulary (tests/conftest.py WORDS).
TEXTS = {
    "neutral": [
        "my account number is this",
        "please help me with my call",
        "this is it",
        "the account is that",
        "call me please",
        "it is my number",
    ],
    "happy": [
        "i am so happy",
        "thanks this is wonderful",
        "great i love it",
        "i am glad",
        "love it thanks",
        "this is great !",
    ],
    "sad": [
        "i am so sad",
        "sorry i lost it",
        "i miss you i cry alone",
        "i am alone",
        "i cry",
        "sorry i miss my account",
    ],
    "angry": [
        "i hate this",
        "this is awful and stupid",
        "i am furious terrible",
        "that is terrible",
        "i hate you",
        "stupid awful call",
    ],
}
N_ROWS = sum(len(v) for v in TEXTS.values())  # 24
SENTIMENT_TEXTS = {
    "positive": ["i am so happy", "thanks this is wonderful", "great i love it", "i am glad"],
    "neutral": ["my account number is this", "please help me", "this is it", "call me"],
    "negative": ["i hate this", "i am so sad", "this is awful", "stupid terrible call"],
}


def manifest_rows() -> list[dict[str, str]]:
    """24 rows; each dialogue holds two different classes, so any split trains on all four."""
    rows = []
    for i in range(6):
        for j, label in enumerate(FOUR):
            # dialogue d{i}-{0|1}: (neutral, happy) and (sad, angry) of text i
            rows.append({"text": TEXTS[label][i], "label": label, "dialogue": f"d{i}-{j // 2}"})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_semeval_official(path: Path) -> Path:
    """Header-less ``id<TAB>label<TAB>text`` (the official task files)."""
    lines = []
    for label, texts in SENTIMENT_TEXTS.items():
        for text in texts:
            lines.append(f"{len(lines) + 100}\t{label}\t{text}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_semeval_shared(path: Path) -> tuple[Path, int]:
    """``id label text source`` with a header; the last text of each class is from 2016 test."""
    lines = ["id\tlabel\ttext\tsource"]
    held = 0
    for label, texts in SENTIMENT_TEXTS.items():
        for k, text in enumerate(texts):
            source = "twitter-2016test-A" if k == len(texts) - 1 else "twitter-2013train-A"
            held += source == "twitter-2016test-A"
            lines.append(f"{len(lines)}\t{label}\t{text}\t{source}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, held


def tiny_model_args(encoder: Path) -> list[str]:
    return [
        "--encoder",
        str(encoder),
        "--hidden-size",
        "16",
        "--frozen-layers",
        "1",
        "--max-length",
        "16",
        "--no-progress",
    ]


def four_class_train_args(data: Path, out: Path, encoder: Path) -> list[str]:
    return [
        "train",
        "ter",
        "--corpus",
        "manifest",
        "--data",
        str(data),
        "--val-fraction",
        "0.3",
        "--val-group",
        "dialogue",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--out",
        str(out),
        *tiny_model_args(encoder),
    ]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured (for fixtures wider than one test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def flat(text: str) -> str:
    """Rich wraps long lines at 80 columns off a terminal: compare with whitespace folded."""
    return " ".join(text.split())


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


@pytest.fixture(scope="module")
def manifest(data_dir: Path) -> Path:
    return write_jsonl(data_dir / "dialogues.jsonl", manifest_rows())


@pytest.fixture(scope="module")
def semeval_file(data_dir: Path) -> Path:
    return write_semeval_official(data_dir / "SemEval2017-task4-dev.subtask-A.english.txt")


@pytest.fixture(scope="module")
def four_class_run(
    tiny_encoder: Path, manifest: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, str, str]:
    """One ``train ter`` run shared by the tests that need a trained four-class model."""
    out = tmp_path_factory.mktemp("cli-models") / "ter4"
    rc, stdout, stderr = run_main(four_class_train_args(manifest, out, tiny_encoder))
    return out, rc, stdout, stderr


@pytest.fixture(scope="module")
def four_class_model(four_class_run: tuple[Path, int, str, str]) -> Path:
    out, rc, _, stderr = four_class_run
    assert rc == 0, stderr
    return out


@pytest.fixture(scope="module")
def semeval_model(
    tiny_encoder: Path, semeval_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("cli-models") / "semeval"
    argv = ["train", "ter", "--corpus", "semeval", "--data", str(semeval_file), "--out", str(out)]
    rc, _, stderr = run_main(
        [*argv, "--epochs", "1", "--batch-size", "4"] + tiny_model_args(tiny_encoder)
    )
    assert rc == 0, stderr
    return out


# --- the console script --------------------------------------------------------------------


def test_console_script_help_lists_subcommands() -> None:
    script = Path(sys.executable).with_name("emorl")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "emorl.cli"]
    done = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: emorl")
    for name in ("train", "evaluate", "predict"):
        assert name in done.stdout


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "usage: emorl" in capsys.readouterr().err


# --- train ter -----------------------------------------------------------------------------


def test_train_writes_model_folder_metrics_and_plots(
    four_class_run: tuple[Path, int, str, str],
) -> None:
    out, rc, stdout, stderr = four_class_run
    assert rc == 0, stderr
    for name in (
        "config.json",
        "model.safetensors",
        "confusion_validation.png",
        "learning_curve.png",
    ):
        assert (out / name).is_file(), name
    for png in ("confusion_validation.png", "learning_curve.png"):
        assert (out / png).read_bytes()[:8] == PNG_SIGNATURE
    assert not (out / "checkpoint.pt").exists()

    config = read_config(out)
    assert config["type"] == "ter"
    assert config["label2id"] == {label: i for i, label in enumerate(FOUR)}
    assert config["model"]["labels"] == FOUR
    assert config["model"]["hidden_size"] == 16 and config["model"]["frozen_layers"] == 1
    assert config["model"]["max_length"] == 16
    validation = config["metrics"]["validation"]
    assert set(validation) >= {"n", "accuracy", "ua", "macro_f1"}
    assert 1 <= validation["n"] < N_ROWS
    for metric in ("accuracy", "ua", "macro_f1"):
        assert 0.0 <= validation[metric] <= 1.0
    data = config["data"]
    assert list(data["train_counts"]) == FOUR
    assert all(n > 0 for n in data["train_counts"].values())
    assert sum(data["train_counts"].values()) + validation["n"] == N_ROWS
    assert sum(data["val_counts"].values()) == validation["n"]
    assert data["val_fraction"] == 0.3 and data["val_group"] == "dialogue"
    history = config["training"]["history"]
    assert len(history["train_loss"]) == 2
    assert all(loss > 0 for loss in history["train_loss"])
    assert len(history["val_accuracy"]) == 2
    assert config["training"]["epochs"] == 2 and config["training"]["batch_size"] == 4

    summary = json.loads(stdout.strip().splitlines()[-1])
    assert list(summary) == ["validation"]
    assert summary["validation"] == {k: validation[k] for k in ("n", "accuracy", "ua", "macro_f1")}
    assert "TER trained" in stderr


def test_train_keeps_dialogues_on_one_side(four_class_model: Path) -> None:
    # Dialogues have two utterances each, so a group-exclusive split has even sizes.
    config = read_config(four_class_model)
    assert config["metrics"]["validation"]["n"] % 2 == 0
    assert sum(config["data"]["train_counts"].values()) % 2 == 0


# --- evaluate ter --------------------------------------------------------------------------


def test_evaluate_json_and_confusion_png(
    four_class_model: Path, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "plots" / "out.png"
    argv = ["evaluate", "ter", "--model", str(four_class_model), "--corpus", "manifest"]
    rc = main([*argv, "--data", str(manifest), "--json", "--confusion", str(png)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) >= {"n", "accuracy", "ua", "macro_f1", "confusion", "skipped"}
    assert result["n"] == N_ROWS
    assert result["skipped"] == {}
    confusion = result["confusion"]
    assert len(confusion) == 4 and all(len(row) == 4 for row in confusion)
    assert sum(map(sum, confusion)) == N_ROWS
    assert [sum(row) for row in confusion] == [6, 6, 6, 6]  # rows are the true classes
    correct = sum(confusion[i][i] for i in range(4))
    assert result["accuracy"] == pytest.approx(correct / N_ROWS)
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_evaluate_table_output(
    four_class_model: Path, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "ter", "--model", str(four_class_model), "--corpus", "manifest"]
    rc = main([*argv, "--data", str(manifest)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert f"TER on manifest ({N_ROWS} utterances)" in flat(captured.out)
    for name in ("accuracy", "ua", "macro_f1"):
        assert name in captured.out


def test_evaluate_counts_unknown_labels_as_skipped(
    four_class_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = manifest_rows() + [
        {"text": "i am so happy", "label": "surprise", "dialogue": "x"},
        {"text": "this is it", "label": "Surprise ", "dialogue": "x"},
        {"text": "i hate this", "label": "disgust", "dialogue": "y"},
    ]
    data = write_jsonl(tmp_path / "extra.jsonl", rows)
    argv = ["evaluate", "ter", "--model", str(four_class_model), "--corpus", "manifest"]
    rc = main([*argv, "--data", str(data), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = json.loads(captured.out)
    assert result["n"] == N_ROWS
    assert result["skipped"] == {
        "label 'surprise' not in four-class set": 2,
        "label 'disgust' not in four-class set": 1,
    }


# --- SemEval -------------------------------------------------------------------------------


def test_semeval_train_and_evaluate(
    semeval_model: Path, semeval_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = read_config(semeval_model)
    assert config["label2id"] == {"negative": 0, "neutral": 1, "positive": 2}
    assert config["data"]["train_counts"] == {"negative": 4, "neutral": 4, "positive": 4}
    assert "metrics" not in config  # no validation asked for
    assert not (semeval_model / "confusion_validation.png").exists()
    assert (semeval_model / "learning_curve.png").is_file()

    argv = ["evaluate", "ter", "--model", str(semeval_model), "--corpus", "semeval"]
    rc = main([*argv, "--data", str(semeval_file), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = json.loads(captured.out)
    assert result["n"] == 12
    for metric in ("macro_recall", "f1_pn", "accuracy", "ua", "macro_f1"):
        assert 0.0 <= result[metric] <= 1.0, metric
    assert result["macro_recall"] == pytest.approx(result["ua"])


def test_semeval_holdout_goes_to_validation(
    tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, held = write_semeval_shared(tmp_path / "train.tsv")
    out = tmp_path / "model"
    argv = ["train", "ter", "--corpus", "semeval", "--data", str(data), "--out", str(out)]
    argv += ["--holdout", "source=twitter-2016test-A", "--epochs", "1", "--batch-size", "8"]
    rc = main(argv + tiny_model_args(tiny_encoder))
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    config = read_config(out)
    assert held == 3
    assert config["metrics"]["validation"]["n"] == held
    assert config["data"]["val_counts"] == {"negative": 1, "neutral": 1, "positive": 1}
    assert config["data"]["train_counts"] == {"negative": 3, "neutral": 3, "positive": 3}
    assert config["data"]["holdout"] == ["source=twitter-2016test-A"]
    summary = json.loads(captured.out.strip().splitlines()[-1])["validation"]
    assert summary["n"] == held
    assert 0.0 <= summary["macro_recall"] <= 1.0 and 0.0 <= summary["f1_pn"] <= 1.0


def test_holdout_matching_nothing_is_an_error(
    tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = write_semeval_shared(tmp_path / "train.tsv")
    out = tmp_path / "model"
    argv = ["train", "ter", "--corpus", "semeval", "--data", str(data), "--out", str(out)]
    rc = main([*argv, "--holdout", "source=twitter-2099"] + tiny_model_args(tiny_encoder))
    captured = capsys.readouterr()
    assert rc == 2
    assert "error:" in captured.err
    assert "source=twitter-2099 matches no utterance" in flat(captured.err)
    assert "Traceback" not in captured.err
    assert not (out / "config.json").exists()


# --- predict -------------------------------------------------------------------------------


def test_predict_json_lines(four_class_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["i am so happy", "i hate this"]
    rc = main(["predict", "--model", str(four_class_model), "--json", *texts])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [row["text"] for row in rows] == texts
    for row in rows:
        probs = row["probabilities"]
        assert list(probs) == FOUR
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert all(0.0 <= p <= 1.0 for p in probs.values())
        assert row["label"] == max(probs, key=probs.get)


def test_predict_reads_stdin(
    four_class_model: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # one row per line, in order (blank lines are an error: tests/test_robustness_text.py)
    monkeypatch.setattr(sys, "stdin", io.StringIO("i am so sad\nthis is great\n"))
    rc = main(["predict", "--model", str(four_class_model), "--json", "-"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    rows = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [row["text"] for row in rows] == ["i am so sad", "this is great"]


def test_predict_table(four_class_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["i am so happy", "i hate this"]
    rc = main(["predict", "--model", str(four_class_model), *texts])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    for text in texts:
        assert text in captured.out
    for label in FOUR:
        assert label in captured.out
    with pytest.raises(json.JSONDecodeError):
        json.loads(captured.out.strip().splitlines()[0])


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_missing_model_folder(
    command: str, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-model"
    if command == "predict":
        argv = ["predict", "--model", str(missing), "i am so happy"]
    else:
        argv = ["evaluate", "ter", "--model", str(missing), "--corpus", "manifest"]
        argv += ["--data", str(manifest)]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    assert "error:" in captured.err and "model folder not found" in flat(captured.err)
    assert "no-such-model" in flat(captured.err)
    assert "Traceback" not in captured.err


def test_missing_data_file(
    four_class_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "ter", "--model", str(four_class_model), "--corpus", "manifest"]
    rc = main([*argv, "--data", str(tmp_path / "absent.jsonl")])
    captured = capsys.readouterr()
    assert rc == 2
    assert "absent.jsonl" in flat(captured.err)


def test_evaluate_with_other_label_set(
    four_class_model: Path, semeval_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", "ter", "--model", str(four_class_model), "--corpus", "semeval"]
    rc = main([*argv, "--data", str(semeval_file), "--json"])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.out == ""
    message = flat(captured.err)
    assert "error:" in message and "semeval yields labels" in message
    assert "negative" in message and "angry" in message


def test_corpus_without_data_is_rejected(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "ter", "--corpus", "manifest", "--corpus", "semeval"]
    argv += ["--data", str(manifest), "--out", str(tmp_path / "model")]
    rc = main(argv)
    assert rc == 2
    assert "each --corpus needs one --data (2 corpora, 1 paths)" in flat(capsys.readouterr().err)
    assert not (tmp_path / "model").exists()


def test_mixed_label_sets_are_rejected(
    tiny_encoder: Path,
    manifest: Path,
    semeval_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["train", "ter", "--corpus", "manifest", "--data", str(manifest)]
    argv += ["--corpus", "semeval", "--data", str(semeval_file), "--out", str(tmp_path / "m")]
    rc = main(argv + tiny_model_args(tiny_encoder))
    captured = capsys.readouterr()
    assert rc == 2
    assert "different label sets" in flat(captured.err)


@pytest.mark.parametrize("name", ["models[v2]", "models[/v2]"])
def test_error_message_keeps_square_brackets(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["predict", "--model", str(tmp_path / name), "i am so happy"])
    captured = capsys.readouterr()
    assert rc == 2
    assert name in flat(captured.err)


# --- interrupted training resumes ----------------------------------------------------------


def test_interrupted_training_resumes(
    tiny_encoder: Path,
    manifest: Path,
    four_class_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "resumed"
    argv = four_class_train_args(manifest, out, tiny_encoder) + ["--checkpoint-every", "1"]
    real_step = torch.optim.Adam.step
    calls = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", step_then_interrupt)
        rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 130
    assert len(calls) == 3
    assert "interrupted" in captured.err
    assert (out / "checkpoint.pt").is_file()
    assert not (out / "config.json").exists()

    resumed_calls = []

    def counted_step(self, *args, **kwargs):
        resumed_calls.append(1)
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", counted_step)
        rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert not (out / "checkpoint.pt").exists()
    # Two steps were checkpointed: the rerun only takes the remaining ones.
    n_train = sum(read_config(out)["data"]["train_counts"].values())
    assert len(resumed_calls) == 2 * -(-n_train // 4) - 2
    assert (out / "model.safetensors").is_file()
    config = read_config(out)
    assert len(config["training"]["history"]["train_loss"]) == 2
    # Resuming continues exactly where the run stopped: same losses as an uninterrupted run.
    reference = read_config(four_class_model)["training"]["history"]
    assert config["training"]["history"]["train_loss"] == pytest.approx(
        reference["train_loss"], rel=1e-5
    )
    assert config["metrics"]["validation"] == read_config(four_class_model)["metrics"]["validation"]


def test_checkpoint_from_other_settings_is_refused(
    tiny_encoder: Path,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "model"
    argv = four_class_train_args(manifest, out, tiny_encoder) + ["--checkpoint-every", "1"]

    real_step = torch.optim.Adam.step
    calls = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # after one step and its checkpoint
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.Adam, "step", step_then_interrupt)
        assert main(argv) == 130
    assert (out / "checkpoint.pt").is_file()
    capsys.readouterr()
    rc = main([*argv, "--lr", "0.001"])
    captured = capsys.readouterr()
    assert rc == 2
    assert "other settings or data" in flat(captured.err)
    assert (out / "checkpoint.pt").is_file()
