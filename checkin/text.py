"""Text normalisation for Vietnamese names: NFC storage and diacritic-free search keys."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# đ/Đ is a letter of its own, not d plus a combining mark, so NFD does not strip it.
_EXTRA = str.maketrans({"đ": "d", "Đ": "D"})


def clean(value: object) -> str:
    """Trim, collapse inner whitespace and compose to NFC: the form names are stored in."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return _SPACES.sub(" ", text).strip()


def fold(value: object) -> str:
    """Search key: lower case, no diacritics, single spaces. "Nguyễn Thị Hương" -> "nguyen thi huong"."""
    text = unicodedata.normalize("NFD", clean(value).translate(_EXTRA))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold()


def unit_key(value: object) -> str:
    """Key that matches unit names ignoring case, spaces and diacritics."""
    return fold(value).replace(" ", "")
