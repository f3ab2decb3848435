"""The text recognizer's posteriors for every reply the simulator can say.

The package ships them for the shipped recognizer, scenario and bank
(``data/ter-posteriors.npz``: float16 posteriors in the order of
:func:`all_replies`, every text the built-in caller can say, the SHA-256 of those texts
and the recognizer's model id). Text mode preloads them (:func:`shipped_posteriors`),
so a recognizer with the shipped model never runs it for a reply of the shipped bank.
:func:`ensure_ter_cache` expands them into the recognizer's cache format under
``$EMORL_CACHE`` or ``~/.cache/emorl``; when they do not match (another model or bank),
it runs the recognizer over every reply instead (minutes on two cores, once per
machine). :func:`warm_text_cache` covers a scenario and bank of your own.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from emorl.envs.recognition import Reply, TextRecognizer
from emorl.fingerprint import sha256_text
from emorl.paths import cache_root
from emorl.simulator import Scenario, UtteranceBank

SHIPPED = Path(__file__).resolve().parent / "data" / "ter-posteriors.npz"


def _model_id() -> str:
    return TextRecognizer().model_id()


def all_replies(scenario: Scenario, bank: UtteranceBank) -> list[str]:
    """Every text the built-in caller (template language) can say with this scenario and bank."""
    from emorl.simulator.caller_language import TemplateCallerLanguage

    return TemplateCallerLanguage(bank).all_replies(scenario)


@lru_cache(maxsize=1)
def _replies() -> list[str]:
    return all_replies(Scenario.load(None), UtteranceBank.load(None))


def _texts_digest(texts: list[str]) -> str:
    return sha256_text("\n".join(texts))


def default_ter_cache() -> Path:
    """Where the shipped recognizer's posteriors cache lives on this machine."""
    return cache_root() / f"ter-posteriors-{_model_id().split(':')[-1][:16]}.npz"


def ensure_ter_cache(path: str | Path | None = None, *, progress: bool = True) -> Path:
    """The posteriors cache at ``path`` (default :func:`default_ter_cache`), made if absent."""
    from emorl.artifacts import atomic_write

    path = Path(path) if path is not None else default_ter_cache()
    if path.is_file():
        return path
    return atomic_write(path, lambda tmp: _build(tmp, progress))


def _build(tmp: Path, progress: bool) -> None:
    if _expand_shipped(tmp):
        return
    staging = tmp.with_name(tmp.name + ".npz")
    try:
        warm_text_cache(staging, progress=progress)
        staging.replace(tmp)
    finally:
        staging.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def shipped_posteriors() -> tuple[str, dict[str, np.ndarray]] | None:
    """``(model id, {reply text: posteriors})`` of the shipped file; None if it is stale.

    Stale means another recognizer model or other replies (an edited scenario or bank):
    the rows would then not belong to the texts they are stored for.
    """
    if not SHIPPED.is_file():
        return None
    with np.load(SHIPPED, allow_pickle=False) as data:
        posteriors, digest, model = data["posteriors"], str(data["texts"]), str(data["model"])
    texts = _replies()
    if model != _model_id() or digest != _texts_digest(texts) or len(texts) != len(posteriors):
        return None
    rows = posteriors.astype(np.float64)
    rows /= rows.sum(axis=1, keepdims=True)  # stored in float16: renormalise the rounding
    return model, dict(zip(texts, rows, strict=True))


def preload_shipped(recognizer: TextRecognizer) -> int:
    """Put the shipped posteriors into ``recognizer``'s cache if they are its model's; count."""
    shipped = shipped_posteriors()
    if shipped is None or shipped[0] != recognizer.model_id():
        return 0
    recognizer.cache.update(shipped[1])
    return len(shipped[1])


def _expand_shipped(out: Path) -> bool:
    """Write the shipped posteriors in the recognizer's cache format; False if stale."""
    shipped = shipped_posteriors()
    if shipped is None:
        return False
    model, table = shipped
    with out.open("wb") as handle:
        np.savez(
            handle,
            texts=np.array(list(table), dtype=str),
            posteriors=np.stack(list(table.values())),
            model=model,
        )
    return True


def export_shipped(cache: str | Path, out: str | Path = SHIPPED) -> Path:
    """Compact a full cache (``emorl env warm-cache``) into the shipped form."""
    texts = _replies()
    with np.load(Path(cache), allow_pickle=False) as data:
        model = str(data["model"])
        table = dict(zip(data["texts"].tolist(), data["posteriors"], strict=True))
    missing = [t for t in texts if t not in table]
    if missing:
        raise ValueError(f"{cache}: {len(missing)} replies missing (run emorl env warm-cache)")
    posteriors = np.stack([table[t] for t in texts]).astype(np.float16)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, posteriors=posteriors, texts=_texts_digest(texts), model=model)
    return Path(out)


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

    Pass it as ``gym.make("EmoDialogue-v1", recognizer_cache=out)``: text mode then never
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
