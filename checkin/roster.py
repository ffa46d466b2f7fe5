"""Roster parsing: an organiser's messy .xlsx or CSV participant list -> checked rows, problems and notes.

Pure: reads only the bytes it is given, touches no database. Blocking problems exclude their row;
warnings never do. Row numbers are the ones the organiser sees in Excel (for CSV: the record number,
which is the line number unless a quoted value spans lines).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from .roster_values import (
    _EXCEL_ERRORS,
    _is_placeholder,
    _text,
    _short,
    normalise_phone,
    _EMAIL,
)
from .text import clean, fold, unit_key

MAX_COLUMNS = 200
MAX_TEXT = 200
MAX_EMAIL = 254
HEADER_SEARCH_ROWS = 15
# An xlsx is a zip of XML that compresses 10-20x; anything unpacking to far more is a zip bomb.
UNPACKED_FACTOR = 50

FIELDS = ("full_name", "unit", "position", "phone", "email", "member_code")


@dataclass(frozen=True, slots=True)
class RosterRow:
    row_number: int
    full_name: str
    unit: str
    position: str
    phone: str
    email: str
    member_code: str


@dataclass(frozen=True, slots=True)
class RosterProblem:
    row_number: int
    field: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RosterParse:
    rows: tuple[RosterRow, ...]
    problems: tuple[RosterProblem, ...]
    header_row: int
    columns: dict[str, str]
    warnings: tuple[RosterProblem, ...]
    sheet: str = ""  # worksheet read (xlsx only)


class RosterError(Exception):
    """The whole file cannot be read; `code` is stable, `message` tells the organiser what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- header recognition

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
                f'Row {row_number}: the column "{texts[j]}" is ignored because "{texts[index[name]]}" '
                f"already gives the {name.replace('_', ' ')}.",
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


# ---------------------------------------------------------------- rows


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


def _take_head(rows: Iterator[tuple[int, tuple[str, ...]]]) -> list[tuple[int, tuple[str, ...]]]:
    head = []
    for item in rows:
        head.append(item)
        if len(head) == HEADER_SEARCH_ROWS:
            break
    return head


def _no_header(where: str) -> RosterError:
    return RosterError("no_header", f"No header row was found in the first {HEADER_SEARCH_ROWS} rows{where}. "
                       'Add a row naming the columns, with at least "Họ và tên" (or "Họ" and "Tên") and one of '
                       '"Đơn vị", "Chức vụ", "Số điện thoại", "Email", "Mã đoàn viên".')


def _is_blank_grid(rows: Iterator[tuple[int, tuple[str, ...]]], head: list) -> bool:
    return not any(cells for _, cells in head) and not any(cells for _, cells in rows)


# ---- CSV

_HTML = re.compile(r"\s*(<!doctype html|<html|<table|<\?xml)", re.IGNORECASE)


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif len(data) >= 4 and data[1:40:2].count(0) > 15 and 0 not in data[0:40:2]:
        encodings = ["utf-16-le"]  # "Unicode text" that lost its BOM
    elif len(data) >= 4 and data[0:40:2].count(0) > 15 and 0 not in data[1:40:2]:
        encodings = ["utf-16-be"]
    else:
        encodings = ["utf-8", "cp1258"]  # Vietnamese Windows ("ANSI") is the usual non-UTF-8 CSV
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        control = sum(1 for ch in text[:20000] if ch < " " and ch not in "\t\r\n")
        if control <= len(text[:20000]) // 1000:
            return text
    raise RosterError("not_a_spreadsheet", "This file is neither an Excel workbook (.xlsx) nor a CSV text file. "
                      "Open the list in Excel and save it as .xlsx or CSV.")


def _csv_rows(text: str, delimiter: str, skip: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for n, cells in enumerate(reader, start=1 - skip):
            if n >= 1:
                yield n, _trimmed(cells, n)
    except csv.Error as exc:
        raise RosterError("not_a_spreadsheet", f"The CSV file cannot be read near line {reader.line_num}: {exc}. "
                          "Open it in Excel and save it again as CSV or .xlsx.") from None


def _parse_csv(data: bytes, max_rows: int) -> RosterParse:
    text = _decode(data)
    if _HTML.match(text):
        raise RosterError("unsupported_format", "This file is a web page (HTML) or an Excel 2003 XML file, as some "
                          "systems export under an .xls name. Open it in Excel and save it as .xlsx or CSV.")
    if not text.strip():
        raise RosterError("empty", "The file is empty.")
    delimiters = [",", ";", "\t"]
    skip = 0
    first_line = text.split("\n", 1)[0].strip()
    if first_line.lower().startswith("sep=") and len(first_line) == 5:
        delimiters, skip = [first_line[4]], 1  # Excel's "sep=;" hint line; Excel hides it, so rows don't count it
    best: tuple[int, str, _Layout] | None = None
    for delimiter in delimiters:
        layout = _find_layout(_take_head(_csv_rows(text, delimiter, skip)))
        if layout and (best is None or len(layout.columns) > best[0]):
            best = (len(layout.columns), delimiter, layout)
    if best is None:
        rows = _csv_rows(text, delimiters[0], skip)
        if _is_blank_grid(rows, _take_head(rows)):
            raise RosterError("empty", "The file has no values in it.")
        raise _no_header("")
    _, delimiter, layout = best
    rows = _csv_rows(text, delimiter, skip)
    head = _take_head(rows)
    return _parse_table(rows, layout, head[layout.data_from:], max_rows, "")


# ---- xlsx

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"\x1f\x8b", b"7z\xbc\xaf", b"MZ")
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\"")


def _check_zip(data: bytes, filename: str, max_bytes: int) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RosterError("not_a_spreadsheet", "This file looks like a damaged zip or Excel file; open it in Excel and "
                          "save it again as .xlsx or CSV.") from None
    with archive:
        sizes = {info.filename: info.file_size for info in infos}
        if any(info.flag_bits & 0x1 for info in infos):
            raise RosterError("encrypted_or_macro", "This file is password-protected. Remove the password in Excel and "
                              "save it again as .xlsx.")
        if sum(sizes.values()) > UNPACKED_FACTOR * max_bytes:
            raise RosterError("too_large", "This workbook unpacks to far more data than a roster holds; save only the "
                              "participant list as a new .xlsx or CSV.")
        if sizes.get("[Content_Types].xml", 10**7) > 10**6 and sizes.get("mimetype", 1000) >= 1000:
            raise RosterError("not_a_spreadsheet", "This zip file is not an Excel workbook; upload the roster as .xlsx "
                              "or CSV.")
        try:
            mimetype = archive.read("mimetype") if "mimetype" in sizes and sizes["mimetype"] < 1000 else b""
            types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in sizes else b""
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
            raise RosterError("not_a_spreadsheet", "This file looks like a damaged zip or Excel file; open it in Excel "
                              "and save it again as .xlsx or CSV.") from None
    if b"opendocument.spreadsheet" in mimetype:
        raise RosterError("unsupported_format", "This is an OpenDocument spreadsheet (.ods). Save it as .xlsx or CSV "
                          "and upload that.")
    if "xl/workbook.bin" in sizes:
        raise RosterError("unsupported_format", "This is a binary Excel workbook (.xlsb). Save it as \"Excel Workbook "
                          "(.xlsx)\" or as CSV and upload that.")
    if (b"macroEnabled" in types or any(name.lower().endswith("vbaproject.bin") for name in sizes)
            or filename.lower().endswith((".xlsm", ".xltm"))):
        raise RosterError("encrypted_or_macro", "This workbook contains macros (.xlsm), which are not accepted. Save it "
                          "in Excel as \"Excel Workbook (.xlsx)\" or as CSV and upload that.")
    if b"spreadsheetml.sheet.main" in types or b"spreadsheetml.template.main" in types:
        return
    kind = "a Word document" if b"wordprocessingml" in types else (
        "a PowerPoint file" if b"presentationml" in types else "not an Excel workbook")
    raise RosterError("not_a_spreadsheet", f"This file is {kind}; upload the roster as an Excel .xlsx or a CSV file.")


def _merged_ranges(data: bytes, sheet_path: str) -> dict[int, list[tuple[int, int]]]:
    """Column -> sorted (first_row, last_row) of vertical merges: a unit merged over its people's rows.

    Read-only openpyxl does not report merged cells, so they are read from the sheet XML directly."""
    from openpyxl.utils.cell import range_boundaries

    refs: set[bytes] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            source = archive.open(sheet_path.lstrip("/"))
        except KeyError:
            return {}
        with source:  # streamed: a sheet can unpack to far more than we want in memory at once
            tail = b""
            while chunk := source.read(1 << 20):
                window = tail + chunk
                refs.update(m.group(1) for m in _MERGE.finditer(window))
                tail = window[-100:]
    by_column: dict[int, list[tuple[int, int]]] = {}
    for ref in refs:
        min_col, min_row, _max_col, max_row = range_boundaries(ref.decode())
        if max_row > min_row:
            by_column.setdefault(min_col - 1, []).append((min_row, max_row))
    for spans in by_column.values():
        spans.sort()
    return by_column


def _sheet_rows(ws, merged: dict[int, list[tuple[int, int]]]) -> Iterator[tuple[int, tuple[str, ...]]]:
    ws.reset_dimensions()  # some writers record a wrong size; read every row that is there
    anchors: dict[tuple[int, int], str] = {}
    starts = {col: [s for s, _ in spans] for col, spans in merged.items()}
    try:
        for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = _trimmed(values, n)
            if merged:
                filled = list(cells)
                for col, spans in merged.items():
                    k = bisect.bisect_right(starts[col], n) - 1
                    if k < 0 or n > spans[k][1]:
                        continue
                    first = spans[k][0]
                    if first == n:
                        anchors[(col, first)] = filled[col] if col < len(filled) else ""
                    elif col >= len(filled) or not filled[col]:
                        filled.extend([""] * (col + 1 - len(filled)))
                        filled[col] = anchors.get((col, first), "")
                cells = tuple(filled)
            yield n, cells
    except RosterError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on damaged files; none of them is ours to handle
        raise RosterError("not_a_spreadsheet", f"The sheet \"{ws.title}\" cannot be read ({type(exc).__name__}); "
                          "open the file in Excel and save it again as .xlsx.") from None


def _parse_xlsx(data: bytes, max_rows: int) -> RosterParse:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - same reason as in _sheet_rows
        raise RosterError("not_a_spreadsheet", f"This Excel file cannot be read ({type(exc).__name__}); open it in "
                          "Excel and save it again as .xlsx or CSV.") from None
    try:
        sheets = [ws for ws in workbook.worksheets if ws.sheet_state == "visible"] or list(workbook.worksheets)
        active = workbook.active
        if active in sheets:
            sheets.remove(active)
            sheets.insert(0, active)
        all_blank = True
        for ws in sheets:
            merged = _merged_ranges(data, getattr(ws, "_worksheet_path", ""))
            rows = _sheet_rows(ws, merged)
            head = _take_head(rows)
            layout = _find_layout(head)
            if layout is not None:
                return _parse_table(rows, layout, head[layout.data_from:], max_rows, ws.title)
            all_blank = all_blank and _is_blank_grid(rows, head)
        if all_blank:
            raise RosterError("empty", "The workbook has no values in it.")
        names = ", ".join(f'"{ws.title}"' for ws in sheets)
        raise _no_header(f" of any sheet ({_short(names, 120)})")
    finally:
        workbook.close()


def parse_roster(data: bytes, filename: str, *, max_bytes: int = 5_000_000, max_rows: int = 20_000) -> RosterParse:
    """Read a roster from the bytes of an .xlsx or CSV file. The kind is decided by content, not by name.

    Raises RosterError when the file as a whole cannot be used; everything row-level is in the result."""
    if len(data) > max_bytes:
        raise RosterError("too_large", f"The file is {len(data) / 1e6:.1f} MB; a roster may be at most "
                          f"{max_bytes / 1e6:.1f} MB.")
    if not data.strip():
        raise RosterError("empty", "The file is empty.")
    if data.startswith(_OLE2_MAGIC):
        # Both old .xls files and password-protected .xlsx files are OLE2 containers.
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise RosterError("encrypted_or_macro", "This Excel file is password-protected. Remove the password in "
                              "Excel and save it again as .xlsx.")
        raise RosterError("unsupported_format", "This is an old Excel 97-2003 file (.xls). Open it in Excel, choose "
                          "Save As \"Excel Workbook (.xlsx)\" or CSV, and upload that.")
    if data.startswith(_ZIP_MAGIC):
        _check_zip(data, filename, max_bytes)
        # openpyxl warns about features it drops (data validation, default styles); the preview has nothing
        # to do with those. catch_warnings is process-wide in Python 3.11, an accepted race for a filter.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
            return _parse_xlsx(data, max_rows)
    if data.startswith(_BINARY_MAGIC) or _binary(data):
        raise RosterError("not_a_spreadsheet", "This file is neither an Excel workbook (.xlsx) nor a CSV text file. "
                          "Open the list in Excel and save it as .xlsx or CSV.")
    return _parse_csv(data, max_rows)


def _binary(data: bytes) -> bool:
    """NUL bytes that are not UTF-16 text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if even + odd == 0:
        return False
    return not (odd > len(sample) // 4 and even == 0) and not (even > len(sample) // 4 and odd == 0)
