"""The TER recipe's knobs: learning-rate schedule, prior correction, source filters, and
accuracy under the SemEval-2017 test's class shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emorl.cli import main
from emorl.evaluation import classification_report
from emorl.evaluation.metrics import SEMEVAL_2017_TEST_PRIOR, accuracy_at_prior
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer
from emorl.recognizers.text.training import choose_prior_correction, prior_offsets
from emorl.recognizers.training import TrainingConfig, lr_factor

SOURCES = ("twitter-2013train-A", "twitter-2015test-A", "twitter-2016train-A", "twitter-2016test-A")
TEXTS = {
    "positive": ["i love this", "great day", "so happy now", "wonderful news"],
    "neutral": ["the bus is at six", "it is tuesday", "see the report", "a meeting today"],
    "negative": ["i hate this", "awful day", "so sad now", "terrible news"],
}


def write_semeval(path: Path) -> Path:
    lines = ["id\tlabel\ttext\tsource"]
    for label, texts in TEXTS.items():
        for text, source in zip(texts, SOURCES, strict=True):
            lines.append(f"{len(lines)}\t{label}\t{text}\t{source}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_linear_schedule_warms_up_then_decays_to_zero() -> None:
    factors = [lr_factor(step, 10, "linear", 0.2) for step in range(10)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[2] == pytest.approx(1.0) and factors[-1] == pytest.approx(1 / 8)
    assert all(a >= b for a, b in zip(factors[1:], factors[2:], strict=False))
    assert [lr_factor(s, 10, "constant", 0.5) for s in (0, 9)] == [1.0, 1.0]
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        TrainingConfig(lr_schedule="cosine")
    with pytest.raises(ValueError, match="warmup is a share"):
        TrainingConfig(warmup=1.5)


def test_prior_offsets_balance_the_decision() -> None:
    shares = [0.15, 0.45, 0.40]
    np.testing.assert_allclose(prior_offsets(shares, 1.0), -np.log(shares))
    assert prior_offsets(shares, 0.0) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="sum to 1"):
        prior_offsets([0.5, 0.6, 0.1], 1.0)
    # posteriors proportional to the shares: no evidence; tau 1 leaves a tie broken towards
    # nothing in particular, tau 0 always says the majority class
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    evidence = np.eye(3)[y] * 0.9 + 0.1  # weak evidence for the true class
    probs = evidence * np.asarray(shares) ** 3  # a model that over-trusts the prior
    probs /= probs.sum(axis=1, keepdims=True)
    tau, scores = choose_prior_correction(probs, y, shares, ("negative", "neutral", "positive"))
    assert tau > 0.0
    assert scores[f"{tau:g}"]["ua"] > scores["0"]["ua"]
    assert set(scores) == {"0", "0.25", "0.5", "0.75", "1"}


def test_logit_offsets_change_posteriors_and_survive_saving(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    config = TERConfig(
        labels=("negative", "neutral", "positive"),
        encoder=str(tiny_encoder),
        hidden_size=16,
        max_length=16,
        logit_offsets=(0.0, 0.0, 3.0),
    )
    model = TextEmotionRecognizer.create(config, seed=0)
    shifted = model.probabilities(["i love this"])[0]
    model.config.logit_offsets = ()
    plain = model.probabilities(["i love this"])[0]
    expected = plain * np.exp([0.0, 0.0, 3.0])
    np.testing.assert_allclose(shifted, expected / expected.sum(), rtol=1e-5)
    model.config.logit_offsets = (0.0, 0.0, 3.0)
    model.save_pretrained(tmp_path / "m")
    loaded = TextEmotionRecognizer.from_pretrained(tmp_path / "m")
    assert loaded.config.logit_offsets == (0.0, 0.0, 3.0)
    with pytest.raises(ValueError, match="logit_offsets has 2 values for 3 labels"):
        TERConfig(labels=("a", "b", "c"), logit_offsets=(0.0, 1.0))


def test_accuracy_at_the_2017_shares() -> None:
    names = ("negative", "neutral", "positive")
    y = np.array([0] * 10 + [1] * 10 + [2] * 10)
    pred = np.array([0] * 10 + [0] * 5 + [1] * 5 + [2] * 10)  # neutral recall 0.5
    report = classification_report(y, pred, names)
    expected = (0.323 * 1.0 + 0.483 * 0.5 + 0.193 * 1.0) / 0.999
    assert accuracy_at_prior(report, SEMEVAL_2017_TEST_PRIOR) == pytest.approx(expected)
    assert report.extra["accuracy_2017_prior"] == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore::emorl.recognizers.text.input.UnreliableTextWarning")
def test_exclude_and_prior_correction_from_the_command_line(
    tiny_encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    data = write_semeval(tmp_path / "train.tsv")
    out = tmp_path / "model"
    argv = ["train", "ter", "--corpus", "semeval", "--data", str(data), "--out", str(out)]
    argv += ["--holdout", "source=twitter-2016test-A", "--exclude", "source=twitter-2016*"]
    argv += ["--prior-correction", "auto", "--epochs", "1", "--batch-size", "4"]
    argv += ["--lr-schedule", "linear", "--warmup", "0.1", "--no-progress"]
    argv += ["--encoder", str(tiny_encoder), "--hidden-size", "16", "--max-length", "16"]
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    config = json.loads((out / "config.json").read_text())
    # 2016 train is excluded, 2016 test is the validation set
    assert config["data"]["train_counts"] == {"negative": 2, "neutral": 2, "positive": 2}
    assert config["data"]["val_counts"] == {"negative": 1, "neutral": 1, "positive": 1}
    correction = config["data"]["prior_correction"]
    assert correction["chosen_by"] == "validation UA" and set(correction["validation_by_tau"])
    assert config["training"]["lr_schedule"] == "linear"
    summary = json.loads(captured.out.strip().splitlines()[-1])["validation"]
    assert 0.0 <= summary["accuracy_2017_prior"] <= 1.0
    # a condition that matches nothing is an error naming it
    bad = [*argv[:8], "--exclude", "source=twitter-2099*", "--epochs", "1", "--no-progress"]
    bad += ["--encoder", str(tiny_encoder), "--hidden-size", "16", "--max-length", "16"]
    assert main(bad) != 0
    assert "source=twitter-2099* matches no utterance" in capsys.readouterr().err
