"""Text normalisation for Vietnamese names: NFC storage and diacritic-free search keys."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# đ/Đ is a letter of its own, not d plus a combining mark, so NFD does not strip it.
_EXTRA = str.maketrans({"đ": "d", "Đ": "D"})


def clean(value: object) -> str:
    """Trim, collapse inner whitespace and compose to NFC: the form names are stored in."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return _SPACES.sub(" ", text).strip()


def has_surrogate(value: str) -> bool:
    """True for text holding a lone surrogate (JSON can write one as "\\ud800"): not a character, and
    nothing UTF-8 can encode, so the database cannot store it."""
    return not value.isascii() and _SURROGATE.search(value) is not None


def fold(value: object) -> str:
    """Search key: lower case, no diacritics, single spaces. "Nguyễn Thị Hương" -> "nguyen thi huong"."""
    text = unicodedata.normalize("NFD", clean(value).translate(_EXTRA))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold()


def unit_key(value: object) -> str:
    """Key that matches unit names ignoring case, spaces and diacritics."""
    return fold(value).replace(" ", "")


def whole_number(value: object, max_digits: int = 15) -> int | None:
    """The non-negative integer typed in `value`, or None. ASCII digits only: "²".isdigit() is true
    but int("²") fails, and 5,000 digits would pass isdigit() and exceed int()'s limit."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
