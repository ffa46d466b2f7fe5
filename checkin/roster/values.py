"""Cell values of a roster: text cleaning, placeholders, phone numbers and e-mail addresses.

Pure helpers for checkin.roster, kept apart because phone rules are a subject of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from babel.numbers import format_decimal

from ..i18n import current_language
from ..i18n import gettext as _
from ..text import clean, fold


# ---------------------------------------------------------------- cell values

_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff]")
_EXCEL_ERRORS = {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
_PLACEHOLDER = re.compile(r"[-–—._…/]{1,5}|[xX]")  # "-", "x", "..." typed for "none"
_PLACEHOLDER_WORDS = {"khong", "khong co", "chua co", "none", "n/a", "na", "nil"}


def _is_placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.fullmatch(text)) or (len(text) <= 8 and fold(text) in _PLACEHOLDER_WORDS)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))  # 912345678.0 -> "912345678"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return clean(_INVISIBLE.sub("", str(value)))


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _number(value: float, pattern: str = "#,##0") -> str:
    """A number for a message, as the current language writes it: 20,000 and 5.0 in English, 20.000 and 5,0
    in Vietnamese."""
    return format_decimal(value, format=pattern, locale=current_language())


# ---------------------------------------------------------------- phone numbers

_VN_MOBILE = re.compile(r"0[35789]\d{8}")
_VN_LANDLINE = re.compile(r"02\d{9}")
_SCIENTIFIC = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")
_PHONE_CHARS = re.compile(r"[0-9 .\-()+]+")
_SEVERAL = re.compile(r"\s*(?:/|;|,|\||\bhoặc\b|\bor\b)\s*", re.IGNORECASE)
# 11-digit mobile prefixes renumbered in 2018.
_OLD_PREFIXES = {
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036", "0167": "037",
    "0168": "038", "0169": "039", "0186": "056", "0188": "058", "0199": "059",
}


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    value: str
    fixed: str = ""  # why the number was changed, for a warning (in the current language)
    error: str = ""  # why it is not a phone number


def normalise_phone(text: str) -> PhoneNumber:
    """ "+84 912 345 678", 912345678, "84912345678" -> "0912345678"; landlines kept; foreign as +digits."""
    text = text.lstrip("'")  # Excel's "treat as text" prefix, when it leaks into a CSV
    if not text:
        return PhoneNumber("")
    if _SCIENTIFIC.fullmatch(text):
        return PhoneNumber(text, error="scientific")
    parts = [p for p in _SEVERAL.split(text) if p]
    fixed = ""
    if len(parts) > 1:
        text, fixed = parts[0], _("only the first of several numbers was kept")
    if not _PHONE_CHARS.fullmatch(text):
        return PhoneNumber(text, error="invalid")
    digits = re.sub(r"\D", "", text)
    international = text.startswith("+") or digits.startswith("00")
    if international:
        digits = digits.lstrip("0") if digits.startswith("00") else digits
        if not digits.startswith("84"):
            ok = 8 <= len(digits) <= 15
            return PhoneNumber("+" + digits, fixed) if ok else PhoneNumber(text, error="invalid")
        digits = "0" + digits[2:].lstrip("0")  # "+84 (0)912..." too
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[0] in "35789":
        digits, fixed = "0" + digits, _("the leading 0 that Excel dropped was put back")
    elif len(digits) == 10 and digits[0] == "2":
        digits, fixed = "0" + digits, _("the leading 0 that Excel dropped was put back")
    if len(digits) == 11 and digits[:4] in _OLD_PREFIXES:
        digits, fixed = _OLD_PREFIXES[digits[:4]] + digits[4:], _("the old 11-digit number was renumbered")
    if _VN_MOBILE.fullmatch(digits) or _VN_LANDLINE.fullmatch(digits):
        return PhoneNumber(digits, fixed)
    return PhoneNumber(text, error="invalid")


_EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
