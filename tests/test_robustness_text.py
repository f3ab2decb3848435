"""Robustness of text input: invalid UTF-8, blank lines, non-Latin and invisible text."""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import pytest

from emorl.cli import main
from emorl.recognizers.text.input import (
    TextInputError,
    UnreliableTextWarning,
    clean_texts,
    foreign_script_fraction,
)
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

sys.path.insert(0, str(Path(__file__).parent))
from test_cli import flat, four_class_train_args, manifest_rows, run_main, write_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("robust-text")
    data = write_jsonl(folder / "train.jsonl", manifest_rows())
    out = folder / "ter"
    rc, _, stderr = run_main(four_class_train_args(data, out, tiny_encoder))
    assert rc == 0, stderr
    return out


@pytest.fixture(scope="module")
def tiny(tiny_encoder: Path) -> TextEmotionRecognizer:
    config = TERConfig(encoder=str(tiny_encoder), hidden_size=16, frozen_layers=1, max_length=16)
    return TextEmotionRecognizer.create(config)


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# --- row 4: invalid UTF-8 ------------------------------------------------------------------


def test_lone_surrogate_in_the_api_names_the_batch_index(tiny: TextEmotionRecognizer) -> None:
    with pytest.raises(TextInputError, match=r"text\[1\].*surrogate U\+DCFF"):
        tiny.predict(["i am happy", "i am \udcff sad"])
    with pytest.raises(TextInputError, match="not valid UTF-8"):
        clean_texts([b"i am \xff sad"], 16)


def test_invalid_utf8_on_stdin_names_the_line(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_bytes(monkeypatch, b"i am so sad\ni am \xff happy\n")
    rc = main(["predict", "--model", str(model_dir), "-"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    assert "stdin line 2 is not valid UTF-8" in flat(captured.err)
    assert "Traceback" not in captured.err


def test_invalid_utf8_in_argv_names_the_argument(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Python turns undecodable argv bytes into lone surrogates (surrogateescape)
    rc = main(
        [
            "predict",
            "--model",
            str(model_dir),
            "i am happy",
            b"bad \xff".decode("utf-8", "surrogateescape"),
        ]
    )
    err = flat(capsys.readouterr().err)
    assert rc == 2 and "argument 2" in err and "not valid UTF-8" in err


# --- row 5: blank lines on stdin ---------------------------------------------------------


def test_blank_line_on_stdin_is_an_error_naming_it(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_bytes(monkeypatch, b"i am so sad\n   \nthis is great\n")
    rc = main(["predict", "--model", str(model_dir), "--json", "-"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    assert "stdin line 2 is blank" in flat(captured.err)


def test_predict_help_documents_blank_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "A blank line" in flat(capsys.readouterr().out)


def test_stdin_rows_line_up(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_bytes(monkeypatch, "i am so sad\ncafé is great\n".encode())
    assert main(["predict", "--model", str(model_dir), "--json", "-"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [row["text"] for row in rows] == ["i am so sad", "café is great"]


# --- row 6: non-Latin, zero-width and NUL-only text ---------------------------------------


@pytest.mark.parametrize("text", ["أنا سعيد جدا اليوم", "Я очень счастлив сегодня", "我今天很高兴"])
def test_non_latin_script_warns(tiny: TextEmotionRecognizer, text: str) -> None:
    assert foreign_script_fraction(text) > 0.5
    with pytest.warns(UnreliableTextWarning, match="non-Latin script"):
        tiny.predict_proba(text)


def test_latin_text_does_not_warn(tiny: TextEmotionRecognizer) -> None:
    assert foreign_script_fraction("Café crème, naïve façade!") == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreliableTextWarning)
        tiny.predict_proba("i am so happy")


@pytest.mark.parametrize("text", ["\u200b\u200b", "\x00\x00\x00", "\ufeff", "\u200d \u2060"])
def test_invisible_only_text_is_refused(tiny: TextEmotionRecognizer, text: str) -> None:
    with pytest.raises(TextInputError, match="control, zero-width"):
        tiny.predict([text])


def test_invisible_only_line_on_stdin(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_bytes(monkeypatch, "i am so sad\n\u200b\n".encode())
    assert main(["predict", "--model", str(model_dir), "-"]) == 2
    assert "stdin line 2 holds only control, zero-width" in flat(capsys.readouterr().err)


def test_cli_shows_the_unreliable_warning(
    model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--model", str(model_dir), "--json", "Я очень счастлив"]) == 0
    assert "non-Latin script" in flat(capsys.readouterr().err)
