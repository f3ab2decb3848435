"""Shared fixtures: a tiny BERT encoder written to disk, the shared data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Tiny test models gain nothing from threads; one keeps runs deterministic and fast.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WORDS = [
    "i",
    "am",
    "so",
    "happy",
    "glad",
    "great",
    "thanks",
    "wonderful",
    "love",
    "sad",
    "sorry",
    "cry",
    "lost",
    "miss",
    "alone",
    "angry",
    "furious",
    "hate",
    "awful",
    "terrible",
    "stupid",
    "the",
    "a",
    "is",
    "it",
    "this",
    "that",
    "my",
    "you",
    "call",
    "account",
    "number",
    "please",
    "help",
    "me",
    "with",
    ".",
    ",",
    "!",
    "?",
]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that use it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer BERT (hidden 32) with a word-level vocabulary, saved as a local folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizer(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)
    assert tokenizer("i am happy")["input_ids"][1] == vocab.index("i")
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    assert (folder / "model.safetensors").is_file()
    return folder
