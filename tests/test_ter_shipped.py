"""Integration: the shipped four-class text model, loaded and run with the network blocked."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest

from emorl.recognizers.text.model import DEFAULT_TER_DIR, TextEmotionRecognizer

pytestmark = pytest.mark.integration

EXPECTED = {
    "Thank you so much, you made my day, I'm thrilled!": "happy",
    "My dog died yesterday and I can't stop crying.": "sad",
    "This is the third time you've cancelled my order, I'm furious!": "angry",
    "The meeting is on Tuesday at three in room four.": "neutral",
}


@pytest.fixture(scope="module")
def shipped() -> TextEmotionRecognizer:
    return TextEmotionRecognizer.from_pretrained()


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_network_is_really_blocked() -> None:
    with pytest.raises(Exception, match="[Ss]ocket"):
        socket.create_connection(("127.0.0.1", 9))


def test_shipped_model_loads_offline_and_recognises_clear_cases(
    shipped: TextEmotionRecognizer,
) -> None:
    assert shipped.labels == ("neutral", "happy", "sad", "angry")
    predicted = shipped.predict(list(EXPECTED))
    assert predicted == list(EXPECTED.values())


def test_shipped_probabilities_are_distributions(shipped: TextEmotionRecognizer) -> None:
    probs = shipped.probabilities(list(EXPECTED))
    assert probs.shape == (4, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert shipped.features("hello there").shape == (1, 768)


def test_shipped_model_carries_its_provenance() -> None:
    config = json.loads((DEFAULT_TER_DIR / "config.json").read_text())
    assert config["type"] == "ter"
    assert config["label2id"] == {"neutral": 0, "happy": 1, "sad": 2, "angry": 3}
    assert {s["corpus"] for s in config["data"]["train"]} == {"meld", "dailydialog"}
    validation = config["metrics"]["validation"]
    # per-corpus figures are what `emorl evaluate ter` prints (the model card names it),
    # not blocks pasted into the config
    assert set(config["metrics"]) == {"validation"}
    assert validation["n"] > 5000 and 0.0 < validation["ua"] <= 1.0
    assert (DEFAULT_TER_DIR / "README.md").is_file()


def test_shipped_weights_stay_small() -> None:
    size = (DEFAULT_TER_DIR / "model.safetensors").stat().st_size
    assert size < 20 * 1024 * 1024
