"""Validation of text given to a text emotion recognizer.

Handling, by case:
- ``bytes`` are decoded as strict UTF-8; invalid bytes raise ``TextInputError``.
- Empty or whitespace-only text raises ``TextInputError``.
- Text longer than the model's token limit is truncated to its first tokens (the
  paper's setting); very long strings are cut to ``MAX_CHARS_PER_TOKEN`` characters
  per token first so that a huge input costs no more than a long one.
- Text that the encoder's vocabulary mostly does not cover (non-English scripts)
  is classified, with a ``UnreliableTextWarning``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

MAX_CHARS_PER_TOKEN = 32


class TextInputError(ValueError):
    """Text that cannot be classified; the message says which item and why."""


class UnreliableTextWarning(UserWarning):
    """Text the encoder mostly cannot represent (e.g. not English)."""


def clean_text(text: str | bytes, max_tokens: int, *, index: int | None = None) -> str:
    """Return ``text`` decoded, stripped and cut to a bounded length, or raise."""
    where = "text" if index is None else f"text[{index}]"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise TextInputError(
                f"{where} is not valid UTF-8 ({err.reason} at byte {err.start})"
            ) from err
    if not isinstance(text, str):
        raise TextInputError(f"{where} must be a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise TextInputError(f"{where} is empty")
    return text[: max_tokens * MAX_CHARS_PER_TOKEN]


def clean_texts(texts: str | bytes | Sequence[str | bytes], max_tokens: int) -> list[str]:
    """Validate one text or a batch; a batch must not be empty."""
    if isinstance(texts, (str, bytes)):
        return [clean_text(texts, max_tokens)]
    if len(texts) == 0:
        raise TextInputError("no texts given (empty batch)")
    return [clean_text(t, max_tokens, index=i) for i, t in enumerate(texts)]


def warn_if_unknown(unknown_fraction: Sequence[float], threshold: float = 0.5) -> None:
    """Warn once for a batch when some texts are mostly out-of-vocabulary tokens."""
    bad = [i for i, fraction in enumerate(unknown_fraction) if fraction > threshold]
    if bad:
        warnings.warn(
            f"{len(bad)} text(s) (first: index {bad[0]}) are mostly outside the encoder's "
            "vocabulary (not English?): their predictions are unreliable",
            UnreliableTextWarning,
            stacklevel=3,
        )
