"""The unit directory: reading a messy spreadsheet of units (the roster readers' rows, our own header names),
and proposing which directory entry a roster's unit spelling means. Proposals are only proposals: an organiser
confirms each one (nothing is merged silently)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..i18n import gettext as _
from ..roster import RosterError, normalise_phone
from ..roster.csv_file import _decode
from ..roster.xlsx_file import _check_zip, _sheet_rows
from ..store.unit_directory import MemberUnit, MemberUnitDetails, Spelling
from ..text import clean, fold, unit_key

_ALIASES = {
    "name": ("ten don vi", "don vi", "co so doan", "ten co so doan", "co so doan truc thuoc", "co quan don vi",
             "unit", "unit name", "name", "ten"),
    "short_name": ("ten viet tat", "viet tat", "ten ngan", "ten goi tat", "short name", "abbreviation"),
    "contact_name": ("nguoi lien he", "bi thu", "ho va ten bi thu", "ho ten bi thu", "ho va ten", "ho ten",
                     "contact", "contact name", "secretary"),
    "contact_phone": ("so dien thoai", "dien thoai", "sdt", "so dt", "di dong", "phone", "mobile", "telephone"),
    "contact_email": ("email", "e mail", "thu dien tu", "dia chi email", "mail"),
    "ignore": ("stt", "tt", "so tt", "ghi chu", "note", "notes", "no"),
}
_BY_ALIAS = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
_PREFIX_FIELDS = (("ten don vi", "name"), ("don vi ", "name"), ("co so doan ", "name"), ("so dien thoai", "contact_phone"),
                  ("dien thoai", "contact_phone"), ("email", "contact_email"), ("nguoi lien he", "contact_name"),
                  ("bi thu", "contact_name"), ("ten viet tat", "short_name"))
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
MAX_UNITS = 2000


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    row: int
    details: MemberUnitDetails


@dataclass(frozen=True, slots=True)
class DirectoryParse:
    rows: list[DirectoryRow]
    skipped: list[tuple[int, str]]  # row number, why


def _header_field(text: str) -> str | None:
    key = _NOT_ALNUM.sub(" ", fold(re.sub(r"\([^)]*\)", " ", text))).strip()
    if key in _BY_ALIAS:
        return _BY_ALIAS[key]
    for prefix, field in _PREFIX_FIELDS:
        if key.startswith(prefix):
            return field
    return None


def _rows_of(data: bytes, filename: str, max_bytes: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        import openpyxl

        _check_zip(data, filename, max_bytes, MAX_UNITS)
        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on damaged files
            raise RosterError("not_a_spreadsheet", _("This Excel file cannot be read (%(error)s); open it in Excel "
                                                     "and save it again as .xlsx or CSV.") % {
                "error": type(exc).__name__}) from None
        try:
            yield from _sheet_rows(workbook.active, {})
        finally:
            workbook.close()
        return
    text = _decode(data)
    head = "\n".join(text.split("\n", 20)[:20])
    delimiter = max((",", ";", "\t"), key=head.count)
    for n, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
        yield n, tuple(clean(c) for c in record)


def parse_directory(data: bytes, filename: str, *, max_bytes: int = 5_000_000) -> DirectoryParse:
    """Units from an .xlsx or CSV file: a header row (found in the first 15 rows) naming at least the unit's
    name column; then one unit per row. Runs in a worker (checkin.documents.workers)."""
    if len(data) > max_bytes:
        raise RosterError("too_large", _("The file is too large."))
    layout: dict[int, str] | None = None
    rows: list[DirectoryRow] = []
    skipped: list[tuple[int, str]] = []
    seen: set[str] = set()
    for n, cells in _rows_of(data, filename, max_bytes):
        if layout is None:
            found = {i: f for i, c in enumerate(cells) if c and (f := _header_field(str(c)))}
            if "name" in found.values():
                layout = {}
                for i, f in found.items():
                    if f != "ignore" and f not in layout.values():
                        layout[i] = f
            elif n >= 15:
                break
            continue
        values = {f: clean(cells[i]) if i < len(cells) else "" for i, f in layout.items()}
        name = values.get("name", "")
        if not name:
            if any(values.values()):
                skipped.append((n, _("no unit name")))
            continue
        if unit_key(name) in seen:
            skipped.append((n, _("the same unit as an earlier row")))
            continue
        if len(rows) >= MAX_UNITS:
            raise RosterError("too_many_rows", _("A directory may hold at most %(n)s units.") % {"n": MAX_UNITS})
        seen.add(unit_key(name))
        phone = values.get("contact_phone", "")
        if phone:
            phone = normalise_phone(phone).value or phone
        rows.append(DirectoryRow(n, MemberUnitDetails(
            name=name[:200], short_name=values.get("short_name", "")[:60], contact_name=values.get("contact_name", "")[:120],
            contact_phone=phone[:40], contact_email=values.get("contact_email", "")[:200])))
    if layout is None:
        raise RosterError("no_header", _("No header row with the units' names was found. Put a column titled "
                                         "\"Tên đơn vị\" (unit) in the first rows."))
    return DirectoryParse(rows, skipped)


# --- matching spellings to the directory ------------------------------------------------------------------------

# Words that roster spellings put before a unit's own name: "Đoàn Thanh niên Sở Y tế" is the branch of "Sở Y tế".
_PREFIXES = ("doan thanh nien cong san ho chi minh", "doan thanh nien", "doan tncs ho chi minh", "doan tn", "dtn",
             "chi doan", "doan co so", "lien chi doan", "doan")


def core_key(name: str) -> str:
    """The unit's name without the branch words before it, as a key (case, spaces, diacritics ignored)."""
    text = fold(name)
    for prefix in _PREFIXES:
        if text.startswith(prefix + " "):
            text = text[len(prefix) + 1:]
            break
    return text.replace(" ", "")


@dataclass(frozen=True, slots=True)
class Proposal:
    spelling: Spelling
    candidates: list[MemberUnit]  # best first


def propose(spellings: Iterable[Spelling], directory: Sequence[MemberUnit]) -> list[Proposal]:
    """For each spelling not yet decided: the directory entries it may mean (same key, same name without the
    branch words, the short name, or one name inside the other)."""
    proposals = []
    for spelling in spellings:
        if spelling.decided:
            continue
        key, core = unit_key(spelling.name), core_key(spelling.name)
        scored = []
        for unit in directory:
            if unit_key(unit.name) == key:
                score = 3
            elif core_key(unit.name) == core or (unit.short_name and unit_key(unit.short_name) in (key, core)):
                score = 2
            elif len(core) >= 4 and len(core_key(unit.name)) >= 4 and (core in core_key(unit.name)
                                                                        or core_key(unit.name) in core):
                score = 1
            else:
                continue
            scored.append((-score, unit.name, unit))
        scored.sort(key=lambda s: (s[0], s[1]))
        proposals.append(Proposal(spelling, [s[2] for s in scored[:5]]))
    return proposals
