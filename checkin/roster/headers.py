"""Finding the header row: the column names organisers write (Vietnamese and English, with or without
accents, with notes in parentheses), a second header row under the first, and the layout that says which
column holds which field. The header is searched for in the first `HEADER_SEARCH_ROWS` rows of a sheet or CSV.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..i18n import gettext as _
from ..text import fold
from .results import FIELDS, RosterError, RosterProblem, field_label

HEADER_SEARCH_ROWS = 15

_ALIASES = {
    "full_name": (
        "ho va ten", "ho ten", "ho va ten hoc vien", "ho ten hoc vien", "ho va ten dai bieu",
        "ho va ten can bo", "ho va ten doan vien", "ten hoc vien", "full name", "fullname", "name",
        "participant", "participant name",
    ),
    "family_name": (
        "ho", "ho va ten dem", "ho va dem", "ho dem", "ho va chu dem", "ho va ten lot", "ho lot",
        "last name", "surname", "family name",
    ),
    "given_name": ("ten", "first name", "given name"),
    "unit": (
        "don vi", "co so doan", "don vi cong tac", "co so doan truc thuoc", "co quan", "co quan don vi",
        "noi cong tac", "chi doan", "doan co so", "unit", "organisation", "organization", "department", "agency",
    ),
    "position": (
        "chuc vu", "chuc danh", "chuc vu doan", "chuc vu trong doan", "position", "title", "job title", "role",
    ),
    "phone": (
        "so dien thoai", "sdt", "so dt", "dien thoai", "dt", "dtdd", "so dtdd", "dien thoai di dong", "di dong",
        "dien thoai lien he", "so dien thoai lien he", "phone", "phone number", "mobile", "mobile phone",
        "telephone", "tel",
    ),
    "email": (
        "email", "e mail", "thu dien tu", "dia chi email", "dia chi thu dien tu", "email address", "mail",
    ),
    "member_code": (
        "ma doan vien", "so the doan vien", "ma so doan vien", "so the doan", "ma dv", "member code",
        "member id", "membership number", "code",
    ),
    "ignore": ("stt", "tt", "so tt", "so thu tu", "no", "nr", "ghi chu", "note", "notes"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
# Longer headers that begin like a known one: "Đơn vị/Cơ sở Đoàn", "Số điện thoại liên lạc", "Email công vụ".
_PREFIXES = (
    ("ho va ten ", "full_name"), ("ho ten ", "full_name"), ("ten don vi", "unit"), ("ten co so doan", "unit"),
    ("don vi ", "unit"), ("co so doan ", "unit"), ("chuc vu ", "position"), ("chuc danh ", "position"),
    ("so dien thoai ", "phone"), ("dien thoai ", "phone"), ("email ", "email"), ("e mail ", "email"),
    ("ma doan vien ", "member_code"), ("so the doan ", "member_code"),
)
_NAME_PARTS = {"full_name", "given_name"}
_OTHER_FIELDS = {"unit", "position", "phone", "email", "member_code", "family_name"}

_PARENTHESES = re.compile(r"\([^)]*\)")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _header_key(text: str) -> str:
    """ "Số điện thoại (di động)*:" -> "so dien thoai"."""
    return _NOT_ALNUM.sub(" ", _PARENTHESES.sub(" ", fold(text))).strip()


def _header_fields(cells: Sequence[str]) -> dict[int, str]:
    """Column index -> field (or "ignore") for every cell that is a known column name."""
    found = {}
    for index, text in enumerate(cells):
        key = _header_key(text) if text else ""
        name = _ALIAS_TO_FIELD.get(key) or next((f for p, f in _PREFIXES if key.startswith(p)), None)
        if name:
            found[index] = name
    return found


def _looks_like_header(found: dict[int, str]) -> bool:
    names = set(found.values())
    return bool(names & _NAME_PARTS) and bool(names & _OTHER_FIELDS)


@dataclass(frozen=True, slots=True)
class _Layout:
    header_row: int
    data_from: int  # index into the head rows where data starts
    index: dict[str, int]  # field (or family_name / given_name) -> column index
    columns: dict[str, str]
    notes: tuple[RosterProblem, ...]


def _find_layout(head: list[tuple[int, tuple[str, ...]]]) -> _Layout | None:
    for i, (row_number, cells) in enumerate(head):
        found = _header_fields(cells)
        if not _looks_like_header(found):
            continue
        texts = dict(enumerate(cells))
        data_from = i + 1
        # A second header row ("Liên hệ" over "SĐT" | "Email") refines the first.
        if data_from < len(head):
            sub_cells = head[data_from][1]
            sub = _header_fields(sub_cells)
            non_blank = [j for j, text in enumerate(sub_cells) if text]
            if sub and set(sub.values()) != {"ignore"} and all(j in sub for j in non_blank):
                for j, name in sub.items():
                    found[j] = name
                    texts[j] = sub_cells[j]
                data_from += 1
        return _layout(row_number, data_from, found, texts)
    return None


def _layout(row_number: int, data_from: int, found: dict[int, str], texts: dict[int, str]) -> _Layout:
    index: dict[str, int] = {}
    notes = []
    for j, name in sorted(found.items()):
        if name == "ignore":
            continue
        if name in index:
            notes.append(RosterProblem(
                row_number, name, "duplicate_column",
                _('Row %(row)s: the column "%(column)s" is ignored because "%(kept)s" already gives the '
                  "%(field)s.") % {
                    "row": row_number, "column": texts[j], "kept": texts[index[name]], "field": field_label(name)},
            ))
            continue
        index[name] = j
    if "full_name" in index:
        index.pop("family_name", None)
        index.pop("given_name", None)
    elif "family_name" not in index:
        index["full_name"] = index.pop("given_name")  # a lone "Tên" column holds the whole name
    columns = {}
    for name in FIELDS:
        if name in index:
            columns[name] = texts[index[name]]
        elif name == "full_name":
            columns[name] = f"{texts[index['family_name']]} + {texts[index['given_name']]}"
    return _Layout(row_number, data_from, index, columns, tuple(notes))


def _take_head(rows: Iterator[tuple[int, tuple[str, ...]]]) -> list[tuple[int, tuple[str, ...]]]:
    head = []
    for item in rows:
        head.append(item)
        if len(head) == HEADER_SEARCH_ROWS:
            break
    return head


def _no_header(sheets: str = "") -> RosterError:
    """No header row; `sheets` names the workbook's sheets that were searched (none for a CSV file)."""
    if sheets:
        message = _('No header row was found in the first %(rows)s rows of any sheet (%(sheets)s). Add a row '
                    'naming the columns, with at least "Họ và tên" (or "Họ" and "Tên") and one of "Đơn vị", '
                    '"Chức vụ", "Số điện thoại", "Email", "Mã đoàn viên".')
    else:
        message = _('No header row was found in the first %(rows)s rows. Add a row naming the columns, with at '
                    'least "Họ và tên" (or "Họ" and "Tên") and one of "Đơn vị", "Chức vụ", "Số điện thoại", '
                    '"Email", "Mã đoàn viên".')
    return RosterError("no_header", message % {"rows": HEADER_SEARCH_ROWS, "sheets": sheets})
