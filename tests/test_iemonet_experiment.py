"""End to end: the IEMOCAP experiment runner on a tiny corpus in IEMOCAP's real layout,
the label-paired set builder, and the bimodal CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emorl.cli import main
from emorl.data.paired import pair_by_label
from emorl.data.utterance import Corpus, Utterance

SR = 16000
CODES = {
    "neu": (120.0, "call me with the account number"),
    "hap": (260.0, "i am so happy"),
    "sad": (90.0, "i am sad and alone"),
    "ang": (200.0, "i hate this it is awful"),
}


def tone(freq: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    envelope = np.minimum(1, np.minimum(t, t[::-1]) * 10)
    return (0.2 * x * envelope + 0.003 * rng.normal(size=t.size)).astype(np.float32)


def write_tiny_iemocap(root: Path) -> Path:
    """Two sessions, one dialog each, 3 utterances per class per speaker, synthesized audio."""
    for session in (1, 2):
        dialog = f"Ses0{session}F_impro01"
        base = root / f"Session{session}"
        evaluation = base / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        transcripts = base / "dialog" / "transcriptions" / f"{dialog}.txt"
        transcripts.parent.mkdir(parents=True, exist_ok=True)
        lines, texts, start, n = (
            ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""],
            [],
            0.0,
            0,
        )
        for gender in "FM":
            for code, (freq, text) in CODES.items():
                for _ in range(3):
                    utt = f"{dialog}_{gender}{n:03d}"
                    n += 1
                    end = start + 3.2
                    lines += [
                        f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 3.5000]",
                        "",
                    ]
                    texts.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {text}")
                    wav = base / "sentences" / "wav" / dialog / f"{utt}.wav"
                    wav.parent.mkdir(parents=True, exist_ok=True)
                    sf.write(wav, tone(freq * (1 + 0.1 * (gender == "M")), 3.2, seed=n), SR)
                    start = end + 0.5
        evaluation.write_text("\n".join(lines) + "\n", encoding="ascii")
        transcripts.write_text("\n".join(texts) + "\n", encoding="ascii")
    return root


def test_iemocap_experiment_end_to_end(tiny_encoder: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EMORL_CACHE", str(tmp_path / "cache"))
    root = write_tiny_iemocap(tmp_path / "IEMOCAP")
    out = tmp_path / "results"
    argv = [
        "experiment",
        "iemocap",
        "--root",
        str(root),
        "--out",
        str(out),
        "--folds",
        "2",
        "--seeds",
        "1",
        "--split",
        "session",
        "--encoder",
        str(tiny_encoder),
        "--ter-epochs",
        "1",
        "--ser-epochs",
        "1",
        "--joint",
        "--no-progress",
    ]
    assert main(argv) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["protocol"]["folds"] == 2 and summary["n"] == 48
    systems = summary["systems"]
    assert set(systems) == {
        "ser",
        "ter",
        "fusion_feedforward",
        "fusion_attention",
        "joint_feedforward",
    }
    for system in systems.values():
        result = system["provided"]
        assert 0.0 <= result["accuracy"]["mean"] <= 1.0 and result["folds"] == 2
        assert np.asarray(result["confusion"]).sum() == 48
    table = (out / "results.md").read_text()
    assert "| Fusion, feed-forward (paper) |" in table and "±" in table
    assert (out / "confusion_fusion_attention_provided.png").stat().st_size > 1000
    assert summary["calibration"] and summary["calibration"][0]["temperature"] > 0


def test_missing_iemocap_audio_is_named(tiny_encoder: Path, tmp_path: Path) -> None:
    root = write_tiny_iemocap(tmp_path / "IEMOCAP")
    victim = next((root / "Session2").rglob("*.wav"))
    victim.unlink()
    argv = [
        "experiment",
        "iemocap",
        "--root",
        str(root),
        "--out",
        str(tmp_path / "o"),
        "--encoder",
        str(tiny_encoder),
        "--no-progress",
    ]
    assert main(argv) == 2


def _corpus(name: str, utterances: list[Utterance]) -> Corpus:
    return Corpus(name, ("neutral", "happy", "sad", "angry"), utterances)


def test_pairing_keeps_speakers_and_dialogues_apart() -> None:
    labels = ("neutral", "happy", "sad", "angry")
    clips = [
        Utterance(
            f"c{s}_{i}", labels[i % 4], audio_path=Path(f"/x/{s}_{i}.wav"), speaker=f"actor{s}"
        )
        for s in range(6)
        for i in range(8)
    ]
    lines = [
        Utterance(f"t{d}_{i}", labels[i % 4], text=f"text {d} {i}", dialogue=f"d{d}", corpus="meld")
        for d in range(10)
        for i in range(4)
    ]
    paired = pair_by_label(_corpus("ravdess", clips), [_corpus("meld", lines)], groups=3, seed=0)
    assert len(paired) == 48
    for item in paired.items:
        assert item.label == next(u.label for u in lines if u.id == item.text_id)
    for g in range(3):
        inside = [i for i in paired.items if i.group == g]
        outside = [i for i in paired.items if i.group != g]
        assert {i.speaker for i in inside}.isdisjoint({i.speaker for i in outside})
        assert {i.dialogue for i in inside}.isdisjoint({i.dialogue for i in outside})
    again = pair_by_label(_corpus("ravdess", clips), [_corpus("meld", lines)], groups=3, seed=0)
    assert [i.id for i in again.items] == [i.id for i in paired.items]
    with pytest.raises(ValueError, match="no 'angry' text"):
        pair_by_label(
            _corpus("ravdess", clips), [_corpus("meld", [u for u in lines if u.label != "angry"])]
        )


def test_recognize_cli_needs_an_existing_file(tmp_path: Path) -> None:
    assert main(["recognize", str(tmp_path / "nope.wav"), "--json"]) == 2


MELD_TEXTS = {
    "neutral": ["call me with the account number", "this is my number", "help me with it"],
    "joy": ["i am so happy", "thanks this is great", "wonderful i love it"],
    "sadness": ["i am sad and alone", "sorry i cry", "i lost it"],
    "anger": ["i hate this", "this is awful", "furious and terrible"],
}
RAVDESS_CODES = {"01": 120.0, "03": 260.0, "04": 90.0, "05": 200.0}


def write_paired_sources(root: Path) -> tuple[Path, Path]:
    """A RAVDESS-like folder (4 actors) and a MELD-like csv (8 dialogues)."""
    speech = root / "ravdess"
    for actor in range(1, 5):
        folder = speech / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for code, freq in RAVDESS_CODES.items():
            for rep in (1, 2):
                name = f"03-01-{code}-01-01-{rep:02d}-{actor:02d}.wav"
                sf.write(folder / name, tone(freq * (1 + 0.05 * actor), 1.2, actor + rep), SR)
    rows = ["Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID"]
    n = 0
    for dialogue in range(8):
        for emotion, texts in MELD_TEXTS.items():
            for text in texts:
                n += 1
                rows.append(f"{n},{text},Joey,{emotion},neutral,{dialogue},{n}")
    meld = root / "dev_sent_emo.csv"
    meld.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return speech, meld


def test_train_evaluate_recognize_cli(tiny_encoder: Path, tmp_path: Path, monkeypatch) -> None:
    from emorl.recognizers.speech.features import FeatureNormalizer
    from emorl.recognizers.speech.model import SERConfig, SpeechEmotionRecognizer
    from emorl.recognizers.text.model import TERConfig, TextEmotionRecognizer

    monkeypatch.setenv("EMORL_CACHE", str(tmp_path / "cache"))
    speech, meld = write_paired_sources(tmp_path / "data")
    ter_config = TERConfig(encoder=str(tiny_encoder), hidden_size=16, frozen_layers=1)
    TextEmotionRecognizer.create(ter_config).save_pretrained(tmp_path / "ter")
    ser = SpeechEmotionRecognizer.create(SERConfig(lstm_units=8, normalization="global"), seed=0)
    frames = [ser.frames(p) for p in sorted(speech.rglob("*.wav"))]
    ser.normalizer = FeatureNormalizer.fit(frames, "global")
    ser.save_pretrained(tmp_path / "ser")
    sources = ["--speech-data", str(speech), "--text-corpus", "meld", "--text-data", str(meld)]
    net = tmp_path / "net"
    argv = [
        "train",
        "fusion",
        *sources,
        "--ter",
        str(tmp_path / "ter"),
        "--ser",
        str(tmp_path / "ser"),
        "--out",
        str(net),
        "--kind",
        "attention",
        "--epochs",
        "2",
        "--val-fraction",
        "0.25",
        "--no-progress",
    ]
    assert main(argv) == 0
    config = json.loads((net / "config.json").read_text())
    assert config["type"] == "iemonet" and config["model"]["kind"] == "attention"
    assert config["metrics"]["validation"]["calibration"]["temperature"] > 0
    assert config["data"]["n"] == 32 and len(config["data"]["val_speakers"]) == 1
    assert config["parts"]["ter"]["name"] == str((tmp_path / "ter").resolve())
    assert (
        main(
            [
                "evaluate",
                "fusion",
                "--model",
                str(net),
                *sources,
                "--json",
                "--no-progress",
                "--transcripts",
                "noisy",
            ]
        )
        == 0
    )
    clip = next(speech.rglob("*.wav"))
    assert main(["recognize", str(clip), "--text", "i am sad", "--model", str(net), "--json"]) == 0
    assert main(["recognize", str(clip), "--model", str(net), "--transcripts", "none"]) == 0
