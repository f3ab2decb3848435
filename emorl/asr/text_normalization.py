"""Text normalisation before word error rate scoring.

Reference and hypothesis go through the same steps, so that only word choice counts, not
spelling conventions. The steps, per whitespace-separated token (normalisation is local to a
token, so a text's words are the concatenation of its tokens' words):

1. Unicode NFKC; typographic apostrophes and quotes become ASCII; lowercase.
2. Surrounding punctuation is stripped (``"hello,"`` -> ``hello``); apostrophes inside a word
   stay (``don't``, ``dashwood's``).
3. Numbers are spelled out with ``num2words`` (English): integers as cardinals
   (``10`` -> ``ten``, ``1,000`` -> ``one thousand``, ``105`` -> ``one hundred and five``),
   decimals digit by digit after ``point`` (``3.5`` -> ``three point five``), ordinals
   (``21st`` -> ``twenty first``), four-digit integers 1100-2099 without a thousands comma as
   years (``1999`` -> ``nineteen ninety nine``), ``%`` as ``percent``, a leading ``$`` as
   ``dollars`` after the number. Digits glued to letters (``mp3``) are split and spelled.
4. A few spoken forms of abbreviations are written out (:data:`ABBREVIATIONS`: ``mr`` ->
   ``mister``, ``mrs`` -> ``missus``, ``dr`` -> ``doctor``, ``ok`` -> ``okay`` ...).
5. Hyphens, slashes and every other symbol or punctuation mark split words or disappear;
   ``&`` becomes ``and``.

The result is a list of lowercase words of letters, digits spelled out, and inner
apostrophes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["ABBREVIATIONS", "normalize_text", "normalize_token", "normalize_words"]

#: Written abbreviations and the words a speaker says for them.
ABBREVIATIONS: dict[str, str] = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "prof": "professor",
    "jr": "junior",
    "sr": "senior",
    "st": "saint",
    "vs": "versus",
    "etc": "etcetera",
    "ok": "okay",
}

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_NUMBER = re.compile(
    r"(?P<cur>\$)?(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?"
    r"(?P<ord>st|nd|rd|th)?(?P<pct>%)?(?![\d])"
)
_SPLIT = re.compile(r"[^\w']+|_")
_DIGITS = re.compile(r"(\d+)")


def normalize_text(text: str) -> str:
    """The normalised words of ``text`` joined by single spaces."""
    return " ".join(normalize_words(text))


def normalize_words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring)."""
    return [word for token in text.split() for word in normalize_token(token)]


@lru_cache(maxsize=65536)
def normalize_token(token: str) -> tuple[str, ...]:
    """The normalised words of one whitespace-free token (zero, one or several)."""
    token = unicodedata.normalize("NFKC", token).translate(_QUOTES).lower()
    token = token.replace("&", " and ")
    token = _NUMBER.sub(_spell_number, token)
    words: list[str] = []
    for piece in _SPLIT.split(token):
        piece = piece.strip("'")
        if not piece:
            continue
        for part in _DIGITS.split(piece):
            part = part.strip("'")
            if not part:
                continue
            if part.isdigit():
                words.extend(_words(_cardinal(int(part))))
            else:
                words.append(ABBREVIATIONS.get(part, part))
    return tuple(words)


def _spell_number(match: re.Match[str]) -> str:
    digits = match["num"].replace(",", "")
    value = int(digits)
    if match["dec"] is not None:
        spoken = _cardinal(value) + " point " + " ".join(_cardinal(int(d)) for d in match["dec"])
    elif match["ord"] is not None:
        spoken = _num2words(value, "ordinal")
    elif "," not in match["num"] and len(digits) == 4 and 1100 <= value <= 2099:
        spoken = _num2words(value, "year")
    else:
        spoken = _cardinal(value)
    if match["pct"]:
        spoken += " percent"
    if match["cur"]:
        spoken += " dollars"
    return f" {spoken} "


def _cardinal(value: int) -> str:
    return _num2words(value, "cardinal")


def _num2words(value: int, to: str) -> str:
    from num2words import num2words

    return num2words(value, lang="en", to=to)


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(text.lower()) if w]
