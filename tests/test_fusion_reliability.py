"""Fusion blocks that weigh the branches: reliability inputs, modality dropout, config
round trip and loading configs written before these options existed; the OOD protocol's
out-of-fold discipline (tiny tensors and a fake speech branch: fast, offline)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from emorl.recognizers.fusion.features import fusion_inputs
from emorl.recognizers.fusion.model import (
    RELIABILITY_INPUTS,
    BranchGate,
    FusionBlock,
    FusionConfig,
    reliability_inputs,
)
from emorl.recognizers.fusion.training import FusionTrainingConfig, train_fusion

LABELS = ("neutral", "happy", "sad", "angry")


def toy(n: int = 400, seed: int = 0, text_noise: float = 1.0, speech_noise: float = 1.0):
    """Features in which both branches show the label, and each branch's posteriors."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    text = rng.normal(0, text_noise, size=(n, 8)).astype(np.float32)
    speech = rng.normal(0, speech_noise, size=(n, 6)).astype(np.float32)
    text[np.arange(n), y] += 2.0
    speech[np.arange(n), y] += 2.0

    def probs(x: np.ndarray) -> np.ndarray:
        z = np.exp(x[:, :4] - x[:, :4].max(1, keepdims=True))
        return (z / z.sum(1, keepdims=True)).astype(np.float32)

    return text, speech, probs(text), probs(speech), y


def block_for(**options) -> FusionBlock:
    config = FusionConfig(labels=LABELS, text_size=8, speech_size=6, hidden_size=16, **options)
    return FusionBlock.create(config, seed=0)


def test_reliability_inputs_entropy_and_top_probability() -> None:
    probs = torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.7, 0.1, 0.1, 0.1]])
    out = reliability_inputs(probs, RELIABILITY_INPUTS)
    assert out.shape == (3, 4 + 1 + 1)
    torch.testing.assert_close(out[:, :4], probs)
    entropy = out[:, 4]
    assert entropy[0].item() == pytest.approx(1.0, abs=1e-6)  # uniform: log K / log K
    assert entropy[1].item() == pytest.approx(0.0, abs=1e-6)  # one-hot
    expected = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1)) / math.log(4)
    assert entropy[2].item() == pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(out[:, 5], torch.tensor([0.25, 1.0, 0.7]))
    assert reliability_inputs(probs, ("max_prob",)).shape == (3, 1)


def test_config_validation_and_input_width() -> None:
    with pytest.raises(ValueError, match="reliability"):
        FusionConfig(reliability=("confidence",))
    with pytest.raises(ValueError, match="reliability"):
        FusionConfig(reliability=("entropy", "entropy"))
    with pytest.raises(ValueError, match="modality_dropout"):
        FusionConfig(modality_dropout=1.0)
    config = FusionConfig(reliability=["max_prob", "posteriors"])  # any order, a list
    assert config.reliability == ("posteriors", "max_prob")
    assert FusionConfig(reliability="entropy").reliability == ("entropy",)
    full = FusionConfig(
        labels=LABELS,
        text_size=8,
        speech_size=6,
        reliability=RELIABILITY_INPUTS,
        modality_dropout=0.2,
    )
    assert full.extra_size() == 2 * (4 + 1 + 1) + 2
    for kind, width in (("feedforward", 8 + 6 + 14), ("attention", 3 * 128 + 14)):
        net = FusionBlock.create(FusionConfig(**{**full.__dict__, "kind": kind})).net
        assert net.hidden.in_features == width
    # the paper's block is unchanged: no extra inputs, no extra tensors
    assert FusionConfig(text_size=8, speech_size=6).extra_size() == 0
    assert set(block_for().net.state_dict()) == {
        "hidden.weight",
        "hidden.bias",
        "classifier.weight",
        "classifier.bias",
    }


def test_reliability_block_needs_branch_posteriors() -> None:
    text, speech, _, _, y = toy(32)
    block = block_for(reliability=("entropy",))
    assert block.needs_probabilities
    with pytest.raises(ValueError, match="text_probs and speech_probs"):
        train_fusion(
            block, fusion_inputs(text, speech), y, FusionTrainingConfig(epochs=1), progress=False
        )
    with pytest.raises(ValueError, match="pass text_probs and speech_probs"):
        block.logits(fusion_inputs(text, speech))
    with pytest.raises(ValueError, match="rows of text posteriors"):
        fusion_inputs(text, speech, text_probs=np.zeros((3, 4)), speech_probs=np.zeros((32, 4)))


def test_modality_dropout_drops_one_branch_at_most_and_only_in_training() -> None:
    config = FusionConfig(labels=LABELS, text_size=8, speech_size=6, modality_dropout=0.5)
    gate = BranchGate(config)
    text, speech, tp, sp, _ = toy(4000)
    inputs = fusion_inputs(text, speech, text_probs=tp, speech_probs=sp)
    gate.train()
    torch.manual_seed(0)
    present = gate.presence(inputs)
    assert present.min() >= 0 and (present.sum(1) >= 1).all()  # never both dropped
    dropped = (present.sum(1) == 1).float().mean().item()
    assert 0.45 < dropped < 0.55
    text_dropped = (present[:, 0] == 0).float().mean().item()
    assert 0.2 < text_dropped < 0.3
    gate.eval()
    assert (gate.presence(inputs) == 1).all()
    given = np.tile([[1.0, 0.0]], (len(text), 1))
    masked = fusion_inputs(text, speech, text_probs=tp, speech_probs=sp, present=given)
    assert (gate.presence(masked) == torch.from_numpy(given)).all()


@pytest.mark.parametrize("kind", ["feedforward", "attention"])
def test_a_missing_branch_has_no_influence(kind: str) -> None:
    text, speech, tp, sp, _ = toy(16)
    options = {"reliability": RELIABILITY_INPUTS, "modality_dropout": 0.3, "kind": kind}
    block = block_for(**options)
    states = [np.ones((5, 128), np.float32)] * len(text) if kind == "attention" else None
    absent = np.tile([[1.0, 0.0]], (len(text), 1))

    def logits(s: np.ndarray, p: np.ndarray) -> np.ndarray:
        inputs = fusion_inputs(text, s, states, text_probs=tp, speech_probs=p, present=absent)
        return block.logits(inputs)

    other = np.random.default_rng(1).normal(size=speech.shape).astype(np.float32)
    np.testing.assert_allclose(logits(speech, sp), logits(other, sp[::-1].copy()), atol=1e-6)
    both = block.logits(fusion_inputs(text, speech, states, text_probs=tp, speech_probs=sp))
    assert not np.allclose(both, logits(speech, sp))


def test_modality_dropout_teaches_the_block_to_lean_on_the_other_branch() -> None:
    # speech is the sharper branch in training: a block without modality dropout leans on it
    text, speech, tp, sp, y = toy(600, seed=0, speech_noise=0.3)
    test_text, test_speech, ttp, tsp, test_y = toy(400, seed=1)
    text_alone = float((ttp.argmax(1) == test_y).mean())
    training = FusionTrainingConfig(epochs=25, learning_rate=3e-3, seed=0)
    scores = {}
    for p in (0.0, 0.4):
        block = block_for(reliability=RELIABILITY_INPUTS, modality_dropout=p)
        train_fusion(
            block,
            fusion_inputs(text, speech, text_probs=tp, speech_probs=sp),
            y,
            training,
            progress=False,
        )
        # at test time the speech branch says nothing useful: its features are noise
        noise = np.random.default_rng(2).normal(size=test_speech.shape).astype(np.float32)
        flat = np.full_like(tsp, 0.25)
        if p > 0:
            inputs = fusion_inputs(
                test_text,
                noise,
                text_probs=ttp,
                speech_probs=flat,
                present=np.tile([[1.0, 0.0]], (len(test_y), 1)),
            )
        else:
            inputs = fusion_inputs(test_text, noise, text_probs=ttp, speech_probs=flat)
        scores[p] = float((block.logits(inputs).argmax(1) == test_y).mean())
    assert scores[0.4] > text_alone - 0.05
    assert scores[0.4] > scores[0.0] + 0.15


def test_config_round_trip_and_training_is_deterministic(tmp_path: Path) -> None:
    text, speech, tp, sp, y = toy(64)
    inputs = fusion_inputs(text, speech, text_probs=tp, speech_probs=sp)
    logits = []
    for _ in range(2):
        block = block_for(reliability=("entropy", "max_prob"), modality_dropout=0.25)
        train_fusion(block, inputs, y, FusionTrainingConfig(epochs=3, seed=5), progress=False)
        logits.append(block.logits(inputs))
    np.testing.assert_array_equal(*logits)
    block.save_pretrained(tmp_path / "b")
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert saved["model"]["reliability"] == ["entropy", "max_prob"]
    assert saved["model"]["modality_dropout"] == 0.25
    loaded = FusionBlock.from_pretrained(tmp_path / "b")
    assert loaded.config == block.config
    np.testing.assert_allclose(loaded.logits(inputs), logits[0], atol=1e-6)


def test_configs_written_before_the_options_still_load(tmp_path: Path) -> None:
    text, speech, _, _, _ = toy(8)
    old = block_for()
    old.save_pretrained(tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    saved = json.loads(config_path.read_text())
    for key in ("reliability", "modality_dropout"):
        del saved["model"][key]  # as a config from before the options
    config_path.write_text(json.dumps(saved))
    loaded = FusionBlock.from_pretrained(tmp_path / "old")
    assert loaded.config.reliability == () and loaded.config.modality_dropout == 0.0
    assert not loaded.needs_probabilities
    inputs = fusion_inputs(text, speech)  # no posteriors needed
    np.testing.assert_allclose(loaded.logits(inputs), old.logits(inputs), atol=1e-6)


# --------------------------------------------------------------------------- OOD protocol


class FakeBranch:
    """A speech branch on fixed vectors that records what each SER heard and scored."""

    name = "fake"

    def __init__(self, fixed: bool) -> None:
        self.fixed_features = fixed
        self.trained: list[set[str]] = []
        self.scored: list[tuple[int, set[str]]] = []

    def describe(self) -> dict:
        return {"backend": self.name}

    def prepare(self, items) -> None:
        pass

    def train(self, items, labels, seed: int = 0):
        self.trained.append({i.holder for i in items})
        return len(self.trained) - 1

    def outputs(self, ser, items, states: bool = False):
        self.scored.append((ser, {i.holder for i in items}))
        index = {label: k for k, label in enumerate(LABELS)}
        rng = np.random.default_rng(len(items))
        y = np.asarray([index[i.label] for i in items])
        feats = rng.normal(size=(len(items), 6)).astype(np.float32)
        feats[np.arange(len(items)), y] += 1.0
        probs = np.full((len(items), 4), 0.1, np.float32)
        probs[np.arange(len(items)), y] = 0.7
        return feats, probs, None


class FakeTER:
    labels = LABELS

    def features(self, texts, batch_size: int = 32):
        return np.stack([np.eye(8, dtype=np.float32)[LABELS.index(t.split()[0])] for t in texts])

    class net:  # noqa: N801 (the attribute path the real TER has)
        classifier = torch.nn.Linear(8, 4)


def ood_items():
    from emorl.recognizers.experiments.ood import OODItem

    items = []
    for g in range(3):
        for a in range(2):
            actor = f"actor{g}{a}"
            for k in range(8):
                label = LABELS[k % 4]
                common = {"text": f"{label} text {g}{k}", "label": label, "group": g}
                for condition in ("clean", "noise", "augmented"):
                    items.append(
                        OODItem(
                            f"{actor}/{k}/{condition}",
                            speaker=f"{actor}/{condition}",
                            holder=actor,
                            condition=condition,
                            audio=Path("unused.wav"),
                            **common,
                        )
                    )
            voice = f"espeak:{g}{a}"
            for k in range(4):
                label = LABELS[k % 4]
                items.append(
                    OODItem(
                        f"{voice}/{k}",
                        text=f"{label} spoken {g}{k}",
                        label=label,
                        speaker=voice,
                        holder=voice,
                        group=g,
                        condition="espeak",
                        audio=Path("unused.wav"),
                    )
                )
    return items


@pytest.mark.parametrize("fixed", [False, True])
def test_ood_protocol_keeps_fusion_training_out_of_fold(fixed: bool) -> None:
    from emorl.recognizers.experiments.ood import OODExperimentConfig, run_ood_folds

    items = ood_items()
    group_of = {i.holder: i.group for i in items}
    branch = FakeBranch(fixed)
    config = OODExperimentConfig(
        training=FusionTrainingConfig(epochs=2), seeds=(0,), systems=("ter", "ser", "ood")
    )
    result = run_ood_folds(items, LABELS, FakeTER(), branch, config, progress=False)
    assert set(result.runs) == {"ter", "ser", "ood"}
    assert set(result.runs["ood"]) == {"clean", "noise", "espeak"}  # augmented: training only
    assert len(result.runs["ood"]["clean"].runs) == (3 if fixed else 6)
    for trained in branch.trained:
        assert all(h.startswith("actor") for h in trained)  # SERs hear clean RAVDESS only
    # every speech output (fusion training rows and test rows) comes from an SER that
    # never heard that speaker
    assert branch.scored
    for ser, scored in branch.scored:
        assert not branch.trained[ser] & scored
    if not fixed:  # blending: each SER heard one group
        assert all(len({group_of[h] for h in heard}) == 1 for heard in branch.trained)


def test_ood_config_is_checked() -> None:
    from emorl.recognizers.experiments.ood import OODConfig

    with pytest.raises(ValueError, match="unknown degradation"):
        OODConfig(degradations=("underwater",))
    with pytest.raises(ValueError, match="tts_prosody"):
        OODConfig(tts_prosody="sarcastic")
