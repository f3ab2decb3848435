"""Precompute the text recognizer's posteriors for every reply the simulator can say."""

from __future__ import annotations

from pathlib import Path

from emorl.envs.recognition import Reply, TextRecognizer
from emorl.simulator import Scenario, UtteranceBank
from emorl.simulator.realise import all_replies


def warm_text_cache(
    out: str | Path,
    *,
    scenario: str | Path | None = None,
    bank: str | Path | None = None,
    batch_size: int = 256,
    progress: bool = True,
    recognizer: TextRecognizer | None = None,
) -> dict[str, int]:
    """Write an ``.npz`` posteriors cache covering every possible reply; returns counts.

    Pass it as ``gym.make("EmoDialogue-v0", recognizer_cache=out)``: text mode then never
    waits for the recognizer. An existing file is extended, not recomputed.
    """
    from emorl.progress import task_progress

    texts = all_replies(Scenario.load(scenario), UtteranceBank.load(bank))
    rec = recognizer or TextRecognizer(cache_path=out)
    rec.cache_path = Path(out)
    todo = [t for t in texts if t not in rec.cache]
    with task_progress(progress) as bar:
        task = bar.add_task("posteriors", total=len(todo))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            rec.posteriors([Reply(t, "neutral") for t in chunk])
            bar.advance(task, len(chunk))
    rec.save_cache(out)
    return {"replies": len(texts), "computed": len(todo)}
