"""Where emorl keeps what it computes once per machine.

One cache root, ``$EMORL_CACHE`` or else ``~/.cache/emorl``, with a subfolder per use:
``features/`` (speech features), ``asr/`` (transcripts), ``models/`` (installed models) and
the text posteriors bank at the top level.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root"]


def cache_root(*parts: str) -> Path:
    """``$EMORL_CACHE`` (when set and not empty) or ``~/.cache/emorl``, joined with ``parts``."""
    root = Path(os.environ.get("EMORL_CACHE") or Path.home() / ".cache" / "emorl")
    return root.joinpath(*parts)
