"""From a sheet's rows to checked participants: the cells of a row as text, the walk down the table under
the header (blank rows skipped, totals and signatures under the list set aside), and the checks on each row:
empty or too long values, formula-like text, phone numbers, e-mail addresses, repeated rows and two rows that
would be the same person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..i18n import gettext as _
from ..text import clean, fold, unit_key
from .headers import _Layout
from .results import FIELDS, RosterError, RosterParse, RosterProblem, RosterRow, field_label
from .values import _EMAIL, _EXCEL_ERRORS, _is_placeholder, _number, _short, _text, normalise_phone

MAX_COLUMNS = 200
MAX_TEXT = 200
MAX_EMAIL = 254


@dataclass(slots=True)
class _Collector:
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[RosterProblem] = field(default_factory=list)
    warnings: list[RosterProblem] = field(default_factory=list)
    exact: dict[tuple, int] = field(default_factory=dict)
    people: dict[tuple[str, str], int] = field(default_factory=dict)
    loose: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    unit_keys: dict[str, str] = field(default_factory=dict)  # a roster has tens of units over thousands of rows


def _check_row(n: int, raw: dict[str, str], out: _Collector) -> None:
    name, unit = raw["full_name"], raw["unit"]
    who = f" ({_short(name, 40)})" if name else ""
    blocking: list[RosterProblem] = []
    notes: list[RosterProblem] = []

    def problem(field_name: str, code: str, message: str, **blanks: object) -> None:
        """`message`: a translated sentence beginning "Row %(row)s%(who)s: "; `blanks` fill its other placeholders."""
        blocking.append(RosterProblem(n, field_name, code, message % {"row": n, "who": who, **blanks}))

    values = {}
    for name_ in ("full_name", "unit", "position", "member_code"):
        text = "" if _is_placeholder(raw[name_]) else raw[name_]
        values[name_] = text
        label = field_label(name_)
        if text in _EXCEL_ERRORS:
            problem(name_, "formula_like", _('Row %(row)s%(who)s: the %(field)s cell shows the Excel error '
                                             '"%(value)s"; fix the formula or type the value.'),
                    field=label, value=text)
        elif text[:1] in ("=", "+", "-", "@"):
            problem(name_, "formula_like", _('Row %(row)s%(who)s: the %(field)s "%(value)s" starts with "%(first)s", '
                                             "which a spreadsheet would run as a formula; remove that character."),
                    field=label, value=_short(text), first=text[0])
        elif len(text) > MAX_TEXT:
            problem(name_, "too_long", _('Row %(row)s%(who)s: the %(field)s is %(length)s characters long (at most '
                                         '%(limit)s): "%(value)s".'),
                    field=label, length=len(text), limit=MAX_TEXT, value=_short(text))
    if not values["full_name"]:
        who = " (%s)" % (_("unit %(unit)s") % {"unit": _short(unit, 40)}) if unit else ""
        problem("full_name", "missing_name", _("Row %(row)s%(who)s: the name is empty; type the participant's full "
                                               "name."))
    if not values["unit"]:
        problem("unit", "missing_unit", _("Row %(row)s%(who)s: the unit (đơn vị) is empty; every participant needs "
                                          "one for the attendance report."))

    phone_text = "" if _is_placeholder(raw["phone"]) else raw["phone"]
    phone = normalise_phone(phone_text)
    if phone.error == "scientific":
        problem("phone", "invalid_phone", _('Row %(row)s%(who)s: the phone number "%(phone)s" is in scientific '
                                            "notation, so Excel has lost its digits; format the phone column as Text "
                                            "and type the number again."), phone=phone_text)
    elif phone.error:
        problem("phone", "invalid_phone", _('Row %(row)s%(who)s: the phone number "%(phone)s" is not valid; expected a '
                                            "mobile number of 10 digits starting with 0 (e.g. 0912345678) or a "
                                            "landline of 11 digits starting with 02."), phone=_short(phone_text))
    elif phone.fixed:
        notes.append(RosterProblem(n, "phone", "phone_fixed", _(
            'Row %(row)s%(who)s: the phone number "%(phone)s" was read as %(value)s: %(reason)s.') % {
            "row": n, "who": who, "phone": phone_text, "value": phone.value, "reason": phone.fixed}))

    email = raw["email"].lower().removeprefix("mailto:")
    email = "" if _is_placeholder(email) else email
    if email and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        problem("email", "invalid_email", _('Row %(row)s%(who)s: the email address "%(email)s" is not valid; '
                                            "expected one address like name@example.com."), email=_short(email))

    row = RosterRow(n, values["full_name"], values["unit"], values["position"], phone.value, email,
                    values["member_code"])
    unit = out.unit_keys.get(row.unit)
    if unit is None:
        unit = out.unit_keys[row.unit] = unit_key(row.unit)
    exact_key = (row.full_name.casefold(), unit, row.position.casefold(), row.phone, row.email,
                 row.member_code.casefold())
    if exact_key in out.exact:
        out.warnings.append(RosterProblem(n, "", "duplicate_row", _(
            "Row %(row)s%(who)s: repeats row %(first)s exactly and was skipped.") % {
            "row": n, "who": who, "first": out.exact[exact_key]}))
        return
    out.exact[exact_key] = n
    _check_duplicates(row, unit, phone.error == "", out, problem, notes)

    out.warnings.extend(notes)
    if blocking:
        out.problems.extend(blocking)
    else:
        out.rows.append(row)


def _check_duplicates(
    row: RosterRow, unit: str, phone_ok: bool, out: _Collector, problem: Callable[..., None],
    notes: list[RosterProblem],
) -> None:
    n = row.row_number
    who = f" ({_short(row.full_name, 40)})"
    if row.full_name and row.unit:
        # Exact spelling (diacritics kept): "Hùng" and "Hưng" of one unit are two people.
        person = (row.full_name.casefold(), unit)
        first = out.people.setdefault(person, n)
        if first != n:
            problem("", "duplicate_in_file", _("Row %(row)s%(who)s: the same name and unit as row %(first)s but with "
                                               "different details; keep one of the two rows."), first=first)
        loose = (fold(row.full_name), person[1])
        seen = out.loose.setdefault(loose, (n, row.full_name))
        if seen[1] != row.full_name and seen[1].casefold() != row.full_name.casefold():
            notes.append(RosterProblem(n, "full_name", "similar_name", _(
                'Row %(row)s%(who)s: the name differs only in accents from "%(other)s" in row %(first)s of the same '
                "unit; check they are two people.") % {"row": n, "who": who, "other": seen[1], "first": seen[0]}))
    # The importer recognises people by phone and member code, so two people sharing one would merge.
    if row.phone and phone_ok:
        first = out.phones.setdefault(row.phone, n)
        if first != n:
            problem("phone", "duplicate_phone", _("Row %(row)s%(who)s: the phone number %(phone)s is also on row "
                                                  "%(first)s; each participant needs their own number (or leave it "
                                                  "empty)."), phone=row.phone, first=first)
    if row.member_code:
        first = out.codes.setdefault(row.member_code.casefold(), n)
        if first != n:
            problem("member_code", "duplicate_member_code", _('Row %(row)s%(who)s: the member code "%(member_code)s" '
                                                              "is also on row %(first)s."),
                    member_code=row.member_code, first=first)


_FOOTER = re.compile(r"(tong so|tong cong|tong\s*[:\d]|cong\s*[:\d]|total\b|nguoi lap|noi nhan|ghi chu|t/m\b|"
                     r"xac nhan|an dinh)")


def _footer_text(raw: dict[str, str]) -> str:
    """The text of a row under the list that is not a participant: "Tổng cộng: 45", "T/M BAN THƯỜNG VỤ"."""
    if raw["unit"] or raw["phone"] or raw["email"] or raw["member_code"]:
        return ""
    if not raw["full_name"]:
        return raw["position"]
    return raw["full_name"] if _FOOTER.match(fold(raw["full_name"])) else ""


def _parse_table(
    rows: Iterator[tuple[int, tuple[str, ...]]], layout: _Layout, head_rest: list[tuple[int, tuple[str, ...]]],
    max_rows: int, sheet: str,
) -> RosterParse:
    out = _Collector(warnings=list(layout.notes))
    index = layout.index
    split = "family_name" in index
    count = 0

    def data_rows() -> Iterator[tuple[int, tuple[str, ...]]]:
        yield from head_rest
        yield from rows

    for n, cells in data_rows():
        raw = {name: (cells[j] if j < len(cells) else "") for name, j in index.items()}
        if not any(raw.values()):
            continue  # blank rows, and rows with only a number in "STT"
        count += 1
        if count > max_rows:
            raise RosterError("too_large", _("The roster has more than %(limit)s participant rows; split it into "
                                             "smaller files.") % {"limit": _number(max_rows)})
        if split:
            raw["full_name"] = clean(f"{raw.pop('family_name')} {raw.pop('given_name')}")
        for name in FIELDS:
            raw.setdefault(name, "")
        note = _footer_text(raw)
        if note:
            out.warnings.append(RosterProblem(n, "", "row_ignored", _(
                'Row %(row)s: "%(text)s" has no unit and no contact details and looks like a total, note or signature; '
                "it was ignored.") % {"row": n, "text": _short(note)}))
            continue
        _check_row(n, raw, out)
    if count == 0:
        raise RosterError("empty", _("The header is on row %(row)s but no participants follow it.") % {
            "row": layout.header_row})
    return RosterParse(tuple(out.rows), tuple(out.problems), layout.header_row, dict(layout.columns),
                       tuple(out.warnings), sheet)


# ---------------------------------------------------------------- grids: rows of text from xlsx or CSV


def _trimmed(cells: Sequence[object], n: int) -> tuple[str, ...]:
    texts = [_text(c) for c in cells]
    while texts and not texts[-1]:
        texts.pop()
    if len(texts) > MAX_COLUMNS:
        raise RosterError("too_many_columns", _("Row %(row)s has %(count)s columns; a roster has at most %(limit)s. "
                                                "Delete the unused columns or copy the list into a new sheet.") % {
            "row": n, "count": len(texts), "limit": MAX_COLUMNS})
    return tuple(texts)


def _is_blank_grid(rows: Iterator[tuple[int, tuple[str, ...]]], head: list) -> bool:
    return not any(cells for _, cells in head) and not any(cells for _, cells in rows)
