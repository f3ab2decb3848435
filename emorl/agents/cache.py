"""The text recognizer's posteriors for every possible reply, ready before training starts.

The package ships them for the shipped recognizer, scenario and bank
(``data/ter-posteriors.npz``: float32 posteriors in the order of
:func:`~emorl.simulator.realise.all_replies`, the SHA-256 of those texts and the
recognizer's model id; 150 KB). :func:`ensure_ter_cache` expands them into the
recognizer's cache format under ``$EMORL_CACHE`` or ``~/.cache/emorl``; when they do
not match (another model or bank), it runs the recognizer over every reply instead
(minutes on two cores, once per machine).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parent / "data" / "ter-posteriors.npz"


def cache_dir() -> Path:
    """``$EMORL_CACHE`` or ``~/.cache/emorl``."""
    return Path(os.environ.get("EMORL_CACHE") or Path.home() / ".cache" / "emorl")


def _model_id() -> str:
    from emorl.envs.recognition import TextRecognizer

    return TextRecognizer().model_id()


def _replies() -> list[str]:
    from emorl.simulator import Scenario, UtteranceBank
    from emorl.simulator.realise import all_replies

    return all_replies(Scenario.load(None), UtteranceBank.load(None))


def _texts_digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def default_ter_cache() -> Path:
    """Where the shipped recognizer's posteriors cache lives on this machine."""
    return cache_dir() / f"ter-posteriors-{_model_id().split(':')[-1][:16]}.npz"


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
    from emorl.envs.cache import warm_text_cache

    staging = tmp.with_name(tmp.name + ".npz")
    try:
        warm_text_cache(staging, progress=progress)
        staging.replace(tmp)
    finally:
        staging.unlink(missing_ok=True)


def _expand_shipped(out: Path) -> bool:
    """Write the shipped posteriors in the recognizer's cache format; False if stale."""
    if not SHIPPED.is_file():
        return False
    with np.load(SHIPPED, allow_pickle=False) as data:
        posteriors, digest, model = data["posteriors"], str(data["texts"]), str(data["model"])
    texts = _replies()
    if model != _model_id() or digest != _texts_digest(texts) or len(texts) != len(posteriors):
        return False
    with out.open("wb") as handle:
        np.savez(
            handle,
            texts=np.array(texts, dtype=str),
            posteriors=posteriors.astype(np.float64),
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
    posteriors = np.stack([table[t] for t in texts]).astype(np.float32)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, posteriors=posteriors, texts=_texts_digest(texts), model=model)
    return Path(out)
