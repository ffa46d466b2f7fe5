"""From a sheet's rows to checked participants: the cells of a row as text, the walk down the table under
the header (blank rows skipped, totals and signatures under the list set aside), and the checks on each row:
empty or too long values, formula-like text, phone numbers, e-mail addresses, repeated rows and two rows that
would be the same person.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..text import clean, fold, unit_key
from .headers import _Layout
from .results import FIELDS, RosterError, RosterParse, RosterProblem, RosterRow
from .values import _EMAIL, _EXCEL_ERRORS, _is_placeholder, _short, _text, normalise_phone

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

    def problem(field_name: str, code: str, message: str) -> None:
        blocking.append(RosterProblem(n, field_name, code, f"Row {n}{who}: {message}"))

    values = {}
    for name_ in ("full_name", "unit", "position", "member_code"):
        text = "" if _is_placeholder(raw[name_]) else raw[name_]
        values[name_] = text
        label = name_.replace("_", " ")
        if text in _EXCEL_ERRORS:
            problem(name_, "formula_like", f'the {label} cell shows the Excel error "{text}"; fix the formula or type the value.')
        elif text[:1] in ("=", "+", "-", "@"):
            problem(name_, "formula_like", f'the {label} "{_short(text)}" starts with "{text[0]}", which a spreadsheet '
                    "would run as a formula; remove that character.")
        elif len(text) > MAX_TEXT:
            problem(name_, "too_long", f"the {label} is {len(text)} characters long (at most {MAX_TEXT}): "
                    f'"{_short(text)}".')
    if not values["full_name"]:
        who = f" (unit {_short(unit, 40)})" if unit else ""
        problem("full_name", "missing_name", "the name is empty; type the participant's full name.")
    if not values["unit"]:
        problem("unit", "missing_unit", "the unit (đơn vị) is empty; every participant needs one for the attendance report.")

    phone_text = "" if _is_placeholder(raw["phone"]) else raw["phone"]
    phone = normalise_phone(phone_text)
    if phone.error == "scientific":
        problem("phone", "invalid_phone", f'the phone number "{phone_text}" is in scientific notation, so Excel has '
                "lost its digits; format the phone column as Text and type the number again.")
    elif phone.error:
        problem("phone", "invalid_phone", f'the phone number "{_short(phone_text)}" is not valid; expected a mobile '
                "number of 10 digits starting with 0 (e.g. 0912345678) or a landline of 11 digits starting with 02.")
    elif phone.fixed:
        notes.append(RosterProblem(n, "phone", "phone_fixed", f'Row {n}{who}: the phone number "{phone_text}" was read '
                                   f"as {phone.value}: {phone.fixed}."))

    email = raw["email"].lower().removeprefix("mailto:")
    email = "" if _is_placeholder(email) else email
    if email and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        problem("email", "invalid_email", f'the email address "{_short(email)}" is not valid; expected one address '
                "like name@example.com.")

    row = RosterRow(n, values["full_name"], values["unit"], values["position"], phone.value, email,
                    values["member_code"])
    unit = out.unit_keys.get(row.unit)
    if unit is None:
        unit = out.unit_keys[row.unit] = unit_key(row.unit)
    exact_key = (row.full_name.casefold(), unit, row.position.casefold(), row.phone, row.email,
                 row.member_code.casefold())
    if exact_key in out.exact:
        out.warnings.append(RosterProblem(n, "", "duplicate_row", f"Row {n}{who}: repeats row {out.exact[exact_key]} "
                                          "exactly and was skipped."))
        return
    out.exact[exact_key] = n
    _check_duplicates(row, unit, phone.error == "", out, problem, notes)

    out.warnings.extend(notes)
    if blocking:
        out.problems.extend(blocking)
    else:
        out.rows.append(row)


def _check_duplicates(
    row: RosterRow, unit: str, phone_ok: bool, out: _Collector, problem: Callable[[str, str, str], None],
    notes: list[RosterProblem],
) -> None:
    n = row.row_number
    who = f" ({_short(row.full_name, 40)})"
    if row.full_name and row.unit:
        # Exact spelling (diacritics kept): "Hùng" and "Hưng" of one unit are two people.
        person = (row.full_name.casefold(), unit)
        first = out.people.setdefault(person, n)
        if first != n:
            problem("", "duplicate_in_file", f"the same name and unit as row {first} but with different details; "
                    "keep one of the two rows.")
        loose = (fold(row.full_name), person[1])
        seen = out.loose.setdefault(loose, (n, row.full_name))
        if seen[1] != row.full_name and seen[1].casefold() != row.full_name.casefold():
            notes.append(RosterProblem(n, "full_name", "similar_name", f'Row {n}{who}: the name differs only in accents '
                                       f'from "{seen[1]}" in row {seen[0]} of the same unit; check they are two people.'))
    # The importer recognises people by phone and member code, so two people sharing one would merge.
    if row.phone and phone_ok:
        first = out.phones.setdefault(row.phone, n)
        if first != n:
            problem("phone", "duplicate_phone", f"the phone number {row.phone} is also on row {first}; each participant "
                    "needs their own number (or leave it empty).")
    if row.member_code:
        first = out.codes.setdefault(row.member_code.casefold(), n)
        if first != n:
            problem("member_code", "duplicate_member_code", f'the member code "{row.member_code}" is also on row '
                    f"{first}.")


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
            raise RosterError("too_large", f"The roster has more than {max_rows:,} participant rows; split it into "
                              "smaller files.")
        if split:
            raw["full_name"] = clean(f"{raw.pop('family_name')} {raw.pop('given_name')}")
        for name in FIELDS:
            raw.setdefault(name, "")
        note = _footer_text(raw)
        if note:
            out.warnings.append(RosterProblem(n, "", "row_ignored", f'Row {n}: "{_short(note)}" has no unit and no '
                                              "contact details and looks like a total, note or signature; it was ignored."))
            continue
        _check_row(n, raw, out)
    if count == 0:
        raise RosterError("empty", f"The header is on row {layout.header_row} but no participants follow it.")
    return RosterParse(tuple(out.rows), tuple(out.problems), layout.header_row, dict(layout.columns),
                       tuple(out.warnings), sheet)


# ---------------------------------------------------------------- grids: rows of text from xlsx or CSV


def _trimmed(cells: Sequence[object], n: int) -> tuple[str, ...]:
    texts = [_text(c) for c in cells]
    while texts and not texts[-1]:
        texts.pop()
    if len(texts) > MAX_COLUMNS:
        raise RosterError("too_many_columns", f"Row {n} has {len(texts)} columns; a roster has at most {MAX_COLUMNS}. "
                          "Delete the unused columns or copy the list into a new sheet.")
    return tuple(texts)


def _is_blank_grid(rows: Iterator[tuple[int, tuple[str, ...]]], head: list) -> bool:
    return not any(cells for _, cells in head) and not any(cells for _, cells in rows)
