"""Reading a roster saved as an .xlsx workbook: checks on the zip before openpyxl opens it (damaged,
password-protected, .ods, .xlsb, macros, Word or PowerPoint files, and a zip bomb: see `unpacked`), vertically merged
cells (a unit merged over its people's rows), and the choice of sheet (the active one first, then the other visible
ones).
"""

from __future__ import annotations

import bisect
import io
import re
import zipfile
import zlib
from collections.abc import Iterator

from ..i18n import gettext as _
from .headers import _find_layout, _no_header, _take_head
from .results import RosterError, RosterParse
from .rows import _is_blank_grid, _parse_table, _trimmed
from .unpacked import UnpackLimits, check_unpacked
from .values import _short

_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s+ref=\"([A-Z]+[0-9]+:[A-Z]+[0-9]+)\"")


def _check_zip(data: bytes, filename: str, max_bytes: int, max_rows: int) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise RosterError("not_a_spreadsheet", _damaged()) from None
    with archive:
        sizes = {info.filename: info.file_size for info in infos}
        if any(info.flag_bits & 0x1 for info in infos):
            raise RosterError("encrypted_or_macro", _("This file is password-protected. Remove the password in Excel "
                                                      "and save it again as .xlsx."))
        if sizes.get("[Content_Types].xml", 10**7) > 10**6 and sizes.get("mimetype", 1000) >= 1000:
            raise RosterError("not_a_spreadsheet", _("This zip file is not an Excel workbook; upload the roster as "
                                                     ".xlsx or CSV."))
        try:
            mimetype = archive.read("mimetype") if "mimetype" in sizes and sizes["mimetype"] < 1000 else b""
            types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in sizes else b""
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
            raise RosterError("not_a_spreadsheet", _damaged()) from None
    if b"opendocument.spreadsheet" in mimetype:
        raise RosterError("unsupported_format", _("This is an OpenDocument spreadsheet (.ods). Save it as .xlsx or "
                                                  "CSV and upload that."))
    if "xl/workbook.bin" in sizes:
        raise RosterError("unsupported_format", _("This is a binary Excel workbook (.xlsb). Save it as \"Excel "
                                                  "Workbook (.xlsx)\" or as CSV and upload that."))
    if (b"macroEnabled" in types or any(name.lower().endswith("vbaproject.bin") for name in sizes)
            or filename.lower().endswith((".xlsm", ".xltm"))):
        raise RosterError("encrypted_or_macro", _("This workbook contains macros (.xlsm), which are not accepted. Save "
                                                  "it in Excel as \"Excel Workbook (.xlsx)\" or as CSV and upload "
                                                  "that."))
    if b"spreadsheetml.sheet.main" in types or b"spreadsheetml.template.main" in types:
        try:
            check_unpacked(data, UnpackLimits.for_roster(max_rows, max_bytes))
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
            raise RosterError("not_a_spreadsheet", _damaged()) from None
        return
    if b"wordprocessingml" in types:
        message = _("This file is a Word document; upload the roster as an Excel .xlsx or a CSV file.")
    elif b"presentationml" in types:
        message = _("This file is a PowerPoint file; upload the roster as an Excel .xlsx or a CSV file.")
    else:
        message = _("This file is not an Excel workbook; upload the roster as an Excel .xlsx or a CSV file.")
    raise RosterError("not_a_spreadsheet", message)


def _damaged() -> str:
    return _("This file looks like a damaged zip or Excel file; open it in Excel and save it again as .xlsx or CSV.")


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
    except (RosterError, MemoryError):  # MemoryError: the worker's limit, said as such by checkin.documents.workers
        raise
    except Exception as exc:  # openpyxl raises many kinds on damaged files; none of them is ours to handle
        raise RosterError("not_a_spreadsheet", _('The sheet "%(sheet)s" cannot be read (%(error)s); open the file in '
                                                 "Excel and save it again as .xlsx.") % {
            "sheet": ws.title, "error": type(exc).__name__}) from None


def _parse_xlsx(data: bytes, max_rows: int) -> RosterParse:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - same reason as in _sheet_rows
        raise RosterError("not_a_spreadsheet", _("This Excel file cannot be read (%(error)s); open it in Excel and "
                                                 "save it again as .xlsx or CSV.") % {
            "error": type(exc).__name__}) from None
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
            raise RosterError("empty", _("The workbook has no values in it."))
        names = ", ".join(f'"{ws.title}"' for ws in sheets)
        raise _no_header(_short(names, 120))
    finally:
        workbook.close()
