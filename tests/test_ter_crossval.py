"""Cross-validation of the text recognizer on a tiny encoder and a tiny manifest."""

from __future__ import annotations

import json
from pathlib import Path

from emorl.recognizers.text.model import TERConfig
from emorl.recognizers.text.training import TERTrainingConfig
from emorl.recognizers.text.workflow import CorpusSource, TERCrossValJob, run_crossval_ter

ROWS = {
    "neutral": [
        "my account number is this",
        "please help me with my call",
        "this is it",
        "call my account",
        "the number is this",
        "help me with this call",
    ],
    "happy": [
        "i am so happy",
        "thanks this is wonderful",
        "great i love it",
        "so glad thanks",
        "wonderful i am glad",
        "i love this great call",
    ],
    "sad": [
        "i am so sad",
        "sorry i lost it",
        "i miss you i cry alone",
        "sad and alone",
        "i cry i miss it",
        "so sorry i lost my call",
    ],
    "angry": [
        "i hate this",
        "this is awful stupid",
        "i am furious terrible",
        "stupid awful call",
        "i hate you furious",
        "terrible i hate it",
    ],
}


def write_manifest(path: Path) -> Path:
    lines = []
    for label, texts in ROWS.items():
        for i, text in enumerate(texts):
            lines.append(json.dumps({"text": text, "label": label, "dialogue": f"d{i % 3}"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_crossval_runs_folds_times_seeds(tiny_encoder: Path, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.jsonl")
    job = TERCrossValJob(
        sources=[CorpusSource("manifest", manifest)],
        model=TERConfig(
            encoder=str(tiny_encoder), hidden_size=32, frozen_layers=0, max_length=16, l2=0.0
        ),
        training=TERTrainingConfig(epochs=15, batch_size=4, learning_rate=3e-3, checkpoint_every=0),
        folds=3,
        seeds=(0, 1),
        group="dialogue",
        out=tmp_path / "cv",
        progress=False,
    )
    summary = run_crossval_ter(job)
    assert summary["folds"] == 3 and summary["seeds"] == 2
    assert summary["n"] == 24
    # sum over 2 seeds of every test prediction
    assert sum(map(sum, summary["confusion"])) == 48
    assert 0.0 <= summary["ua"]["std"] < 0.5
    assert summary["ua"]["mean"] > 0.4  # chance is 0.25
    assert (tmp_path / "cv" / "crossval.json").is_file()
    assert (tmp_path / "cv" / "confusion_crossval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert saved["protocol"] == {"folds": 3, "seeds": [0, 1], "group": "dialogue", "split_seed": 0}
