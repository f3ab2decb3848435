"""Package-level promises: importing is fast and loads no model."""

from __future__ import annotations

import json
import subprocess
import sys

import emorl

PROBE = """
import json, sys, time
begun = time.perf_counter()
import emorl, emorl.emotions, emorl.data, emorl.evaluation
seconds = time.perf_counter() - begun
print(json.dumps({"seconds": seconds,
                  "heavy": sorted(m for m in ("torch", "transformers", "matplotlib")
                                  if m in sys.modules)}))
"""


def test_import_is_fast_and_loads_no_model() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    assert result["seconds"] < 1.0


def test_version_is_exposed(capsys) -> None:
    import pytest

    from emorl.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"emorl {emorl.__version__}"


def test_all_shipped_weights_stay_under_30_mb() -> None:
    from pathlib import Path

    models = Path(emorl.__file__).parent / "models"
    weights = list(models.glob("*/model.safetensors"))
    assert weights, "no shipped model found"
    assert sum(w.stat().st_size for w in weights) < 30 * 1024 * 1024
    for weight in weights:  # every shipped model has its card and config beside it
        assert (weight.parent / "README.md").is_file()
        assert (weight.parent / "config.json").is_file()


def test_progress_bars_write_to_stderr(capsys) -> None:
    from emorl.progress import task_progress

    with task_progress(True) as bar:
        task = bar.add_task("work", total=2)
        bar.advance(task, 2)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "work" in captured.err
