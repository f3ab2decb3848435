"""Text emotion recognizer on a tiny 2-layer BERT built by the test."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from emorl.artifacts import ModelFolderError
from emorl.recognizers.text.encoders import EncoderNotFoundError, resolve_encoder
from emorl.recognizers.text.input import TextInputError, UnreliableTextWarning
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer
from emorl.recognizers.text.training import (
    CHECKPOINT_NAME,
    TERTrainingConfig,
    cap_per_class,
    train_ter,
)
from emorl.recognizers.training import balanced_class_weights

TOY = {
    "neutral": ["my account number is this", "please help me with my call", "this is it"],
    "happy": ["i am so happy", "thanks this is wonderful", "great i love it"],
    "sad": ["i am so sad", "sorry i lost it", "i miss you i cry alone"],
    "angry": ["i hate this", "this is awful and stupid", "i am furious terrible"],
}


def toy_data() -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for index, label in enumerate(TOY):
        for text in TOY[label]:
            texts.append(text)
            labels.append(index)
    return texts, labels


def tiny_config(encoder: Path, **changes) -> TERConfig:
    settings = dict(encoder=str(encoder), hidden_size=16, frozen_layers=1, max_length=16)
    settings.update(changes)
    return TERConfig(**settings)


@pytest.fixture()
def model(tiny_encoder: Path) -> TextEmotionRecognizer:
    return TextEmotionRecognizer.create(tiny_config(tiny_encoder), seed=0)


def test_predict_proba_is_labelled_and_normalised(model: TextEmotionRecognizer) -> None:
    one = model.predict_proba("i am so happy")
    assert list(one) == ["neutral", "happy", "sad", "angry"]
    assert sum(one.values()) == pytest.approx(1.0, abs=1e-5)
    batch = model.predict_proba(["i am so happy", "i hate this"])
    assert isinstance(batch, list) and len(batch) == 2
    assert batch[0] == pytest.approx(one, abs=1e-5)


def test_batch_order_does_not_depend_on_padding(model: TextEmotionRecognizer) -> None:
    texts = ["i", "i am so happy thanks this is wonderful great", "sad"]
    together = model.probabilities(texts, batch_size=2)
    alone = np.vstack([model.probabilities(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_features_have_the_head_width(model: TextEmotionRecognizer) -> None:
    features = model.features(["i am so happy", "i hate this", "this"])
    assert features.shape == (3, 16)
    assert np.all(features >= 0)  # ReLU output


def test_inputs_are_not_mutated(model: TextEmotionRecognizer) -> None:
    texts = ["  i am so happy  ", "i hate this"]
    copy = list(texts)
    model.predict(texts)
    assert texts == copy


@pytest.mark.parametrize("bad", ["", "   \n\t", b"\xff\xfe happy", []])
def test_bad_text_is_a_clear_error(model: TextEmotionRecognizer, bad) -> None:
    with pytest.raises(TextInputError):
        model.predict_proba(bad)


def test_empty_item_in_a_batch_names_its_index(model: TextEmotionRecognizer) -> None:
    with pytest.raises(TextInputError, match=r"text\[1\] is empty"):
        model.predict_proba(["i am so happy", " "])


def test_long_and_huge_text_is_truncated_not_rejected(model: TextEmotionRecognizer) -> None:
    long_text = "i am so happy " * 50
    assert model.predict(long_text) in model.labels
    tokens = model.tokenize([long_text]).ids[0]
    assert len(tokens) == model.config.max_length
    huge = "great " * 500_000  # 3 MB
    begun = time.perf_counter()
    assert model.predict(huge) in model.labels
    assert time.perf_counter() - begun < 5.0


def test_non_english_text_warns(model: TextEmotionRecognizer) -> None:
    with pytest.warns(UnreliableTextWarning):
        model.predict_proba("これは日本語の文章です")


def test_save_and_load_round_trip(model: TextEmotionRecognizer, tmp_path: Path) -> None:
    texts = ["i am so happy", "i hate this stupid call"]
    model.save_pretrained(tmp_path / "m", metrics={"validation": {"ua": 0.5}})
    loaded = TextEmotionRecognizer.from_pretrained(tmp_path / "m")
    # float16 storage of the fine-tuned encoder layers: equal to rounding precision
    np.testing.assert_allclose(loaded.probabilities(texts), model.probabilities(texts), atol=2e-3)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["label2id"] == {"neutral": 0, "happy": 1, "sad": 2, "angry": 3}
    assert config["metrics"]["validation"]["ua"] == 0.5
    assert len(config["encoder"]["sha256"]) == 64


def test_only_trained_tensors_are_stored(model: TextEmotionRecognizer, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model.save_pretrained(tmp_path / "m")
    stored = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert not any("embeddings" in name for name in stored)
    assert not any(name.startswith("encoder.encoder.layer.0.") for name in stored)
    assert any(name.startswith("encoder.encoder.layer.1.") for name in stored)
    assert stored["encoder.encoder.layer.1.output.dense.weight"].dtype == torch.float16
    assert stored["fc.weight"].dtype == torch.float32


def test_float32_storage_is_exact(tiny_encoder: Path, tmp_path: Path) -> None:
    model = TextEmotionRecognizer.create(tiny_config(tiny_encoder, storage_dtype="float32"))
    model.save_pretrained(tmp_path / "m")
    loaded = TextEmotionRecognizer.from_pretrained(tmp_path / "m")
    text = "sorry i lost it"
    np.testing.assert_array_equal(loaded.probabilities(text), model.probabilities(text))


def test_missing_and_incomplete_model_folders(model: TextEmotionRecognizer, tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not found"):
        TextEmotionRecognizer.from_pretrained(tmp_path / "nowhere")
    model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="incomplete: missing model.safetensors"):
        TextEmotionRecognizer.from_pretrained(tmp_path / "m")


def test_a_different_base_encoder_is_refused(
    model: TextEmotionRecognizer, tiny_encoder: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-encoder"
    shutil.copytree(tiny_encoder, other)
    model.config.encoder = str(other)
    model.encoder_folder = other
    model.save_pretrained(tmp_path / "m")
    from safetensors.torch import load_file, save_file

    weights = load_file(str(other / "model.safetensors"))
    first = next(iter(weights))
    weights[first] = weights[first] + 1.0
    save_file(weights, str(other / "model.safetensors"))
    from emorl.recognizers.text.encoders import encoder_fingerprint

    encoder_fingerprint.cache_clear()
    with pytest.raises(ModelFolderError, match="SHA-256"):
        TextEmotionRecognizer.from_pretrained(tmp_path / "m")


def test_missing_encoder_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderNotFoundError, match="never downloads"):
        resolve_encoder("bert-base-cased")
    (tmp_path / "enc").mkdir()
    (tmp_path / "enc" / "config.json").write_text("{}")
    with pytest.raises(EncoderNotFoundError, match="missing model.safetensors"):
        resolve_encoder(str(tmp_path / "enc"))


def test_wrong_model_type_is_refused(model: TextEmotionRecognizer, tmp_path: Path) -> None:
    model.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["type"] = "ser"
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFolderError, match="expected 'ter'"):
        TextEmotionRecognizer.from_pretrained(tmp_path / "m")


def test_balanced_weights_and_capping() -> None:
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(balanced_class_weights(y, 3), [4 / 6, 2.0, 0.0])
    idx = cap_per_class([0] * 10 + [1] * 3, 4, seed=1)
    assert len(idx) == 7 and set(range(10, 13)) <= set(idx.tolist())
    np.testing.assert_array_equal(idx, cap_per_class([0] * 10 + [1] * 3, 4, seed=1))


def _trained(encoder: Path, epochs: int, checkpoint_dir: Path | None = None, seed: int = 0):
    config = tiny_config(encoder, l2=0.0, frozen_layers=0, hidden_size=32)
    model = TextEmotionRecognizer.create(config, seed=seed)
    texts, labels = toy_data()
    training = TERTrainingConfig(
        epochs=epochs, batch_size=4, learning_rate=3e-3, seed=seed, checkpoint_every=1
    )
    result = train_ter(
        model,
        texts,
        labels,
        training,
        val_texts=texts,
        val_labels=labels,
        checkpoint_dir=checkpoint_dir,
        progress=False,
    )
    return model, result


def test_training_learns_a_separable_toy_task(tiny_encoder: Path) -> None:
    model, result = _trained(tiny_encoder, epochs=30)
    assert result.validation is not None
    assert result.validation.accuracy >= 11 / 12  # chance is 1/4
    losses = result.history["train_loss"]
    assert losses[-1] < 0.3 * losses[0]
    assert len(result.history["val_ua"]) == 30


def test_same_seed_same_model(tiny_encoder: Path) -> None:
    a, _ = _trained(tiny_encoder, epochs=2)
    b, _ = _trained(tiny_encoder, epochs=2)
    np.testing.assert_array_equal(
        a.probabilities("i am so happy"), b.probabilities("i am so happy")
    )


def test_interrupted_training_resumes_to_the_same_model(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, _ = _trained(tiny_encoder, epochs=3)
    calls = {"n": 0}
    original = torch.optim.Adam.step

    def crashing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # mid second epoch (3 steps per epoch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        _trained(tiny_encoder, epochs=3, checkpoint_dir=tmp_path)
    monkeypatch.setattr(torch.optim.Adam, "step", original)
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    resumed, result = _trained(tiny_encoder, epochs=3, checkpoint_dir=tmp_path)
    text = "i am furious terrible"
    np.testing.assert_allclose(
        resumed.probabilities(text), reference.probabilities(text), atol=1e-6
    )
    assert len(result.history["train_loss"]) == 3


def test_checkpoint_of_other_settings_is_refused(tiny_encoder: Path, tmp_path: Path) -> None:
    _trained(tiny_encoder, epochs=1, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="other settings"):
        _trained(tiny_encoder, epochs=2, checkpoint_dir=tmp_path)


def test_training_rejects_bad_labels(model: TextEmotionRecognizer) -> None:
    with pytest.raises(ValueError, match="class indices"):
        train_ter(model, ["i am so happy"], [7], TERTrainingConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        train_ter(model, ["a", "b"], [0], TERTrainingConfig(epochs=1), progress=False)


def test_save_config_leaves_the_weights_untouched(
    model: TextEmotionRecognizer, tmp_path: Path
) -> None:
    model.save_pretrained(tmp_path / "m")
    weights = (tmp_path / "m" / "model.safetensors").read_bytes()
    model.save_config(tmp_path / "m", metrics={"validation": {"ua": 0.7}})
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == weights
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["metrics"]["validation"]["ua"] == 0.7
    assert config["label2id"] == {"neutral": 0, "happy": 1, "sad": 2, "angry": 3}
