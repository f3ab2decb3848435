"""Validation of text given to a text emotion recognizer.

Handling, by case:
- ``bytes`` are decoded as strict UTF-8; invalid bytes raise ``TextInputError``.
- ``str`` holding lone surrogates (what Python makes of invalid UTF-8 in ``sys.argv``,
  or ``errors="surrogateescape"`` decoding) raises ``TextInputError`` naming the item.
- Empty or whitespace-only text raises ``TextInputError``; so does text with nothing
  left once control and zero-width characters (NUL, ZWSP, BOM...) are set aside.
- Text longer than the model's token limit is truncated to its first tokens (the
  paper's setting); very long strings are cut to ``MAX_CHARS_PER_TOKEN`` characters
  per token first so that a huge input costs no more than a long one.
- Text that the encoder's vocabulary mostly does not cover, or whose letters are
  mostly not Latin script (Arabic, Cyrillic, CJK...: the recognizer is English-only), is
  classified, with one ``UnreliableTextWarning`` per batch naming the first such item.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Sequence

MAX_CHARS_PER_TOKEN = 32
# share of a text's letters outside the Latin script above which it is called unreliable
FOREIGN_SCRIPT_THRESHOLD = 0.5
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


class TextInputError(ValueError):
    """Text that cannot be classified; the message says which item and why."""


class UnreliableTextWarning(UserWarning):
    """Text the encoder mostly cannot represent (e.g. not English)."""


def clean_text(
    text: str | bytes, max_tokens: int, *, index: int | None = None, where: str | None = None
) -> str:
    """Return ``text`` decoded, stripped and cut to a bounded length, or raise.

    ``where`` names the item in error messages (default ``text`` or ``text[index]``).
    """
    if where is None:
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
    surrogate = next((i for i, ch in enumerate(text) if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if surrogate is not None:
        raise TextInputError(
            f"{where} is not valid UTF-8 text: lone surrogate U+{ord(text[surrogate]):04X} "
            f"at character {surrogate} (undecodable bytes in the input?)"
        )
    text = text.strip()
    if not text:
        raise TextInputError(f"{where} is empty")
    if all(unicodedata.category(ch) in _INVISIBLE for ch in text):
        raise TextInputError(
            f"{where} holds only control, zero-width or other invisible characters "
            f"(e.g. U+{ord(text[0]):04X}): nothing to classify"
        )
    return text[: max_tokens * MAX_CHARS_PER_TOKEN]


def foreign_script_fraction(text: str) -> float:
    """Share of the letters of ``text`` that are not Latin script (0.0 without letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    foreign = sum(not unicodedata.name(ch, "").startswith("LATIN") for ch in letters)
    return foreign / len(letters)


def clean_texts(texts: str | bytes | Sequence[str | bytes], max_tokens: int) -> list[str]:
    """Validate one text or a batch; a batch must not be empty."""
    if isinstance(texts, (str, bytes)):
        return [clean_text(texts, max_tokens)]
    if len(texts) == 0:
        raise TextInputError("no texts given (empty batch)")
    return [clean_text(t, max_tokens, index=i) for i, t in enumerate(texts)]


def warn_if_unreliable(
    texts: Sequence[str], unknown_fraction: Sequence[float], threshold: float = 0.5
) -> None:
    """Warn once for a batch when some texts are mostly unknown tokens or non-Latin script."""
    script = [
        i for i, t in enumerate(texts) if foreign_script_fraction(t) > FOREIGN_SCRIPT_THRESHOLD
    ]
    vocab = [i for i, fraction in enumerate(unknown_fraction) if fraction > threshold]
    bad = sorted(set(script) | set(vocab))
    if not bad:
        return
    reasons = []
    if script:
        reasons.append(f"{len(script)} mostly in a non-Latin script (first: index {script[0]})")
    if vocab:
        reasons.append(
            f"{len(vocab)} mostly outside the encoder's vocabulary (first: index {vocab[0]})"
        )
    warnings.warn(
        f"{len(bad)} text(s) (first: index {bad[0]}) look unlike the English the recognizer "
        f"was trained on ({'; '.join(reasons)}): their predictions are unreliable",
        UnreliableTextWarning,
        stacklevel=3,
    )


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
