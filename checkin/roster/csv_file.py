"""Reading a roster saved as CSV: decoding the bytes (UTF-8 with or without a BOM, UTF-16 with or without
a BOM, Vietnamese Windows cp1258), refusing web pages and Excel 2003 XML saved under a spreadsheet name, and choosing
the delimiter (comma, semicolon, tab, or Excel's "sep=" hint) by which one gives the fullest header.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator

from ..i18n import gettext as _
from .headers import _Layout, _find_layout, _no_header, _take_head
from .results import RosterError, RosterParse
from .rows import _is_blank_grid, _parse_table, _trimmed

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
    raise RosterError("not_a_spreadsheet", _("This file is neither an Excel workbook (.xlsx) nor a CSV text file. "
                                             "Open the list in Excel and save it as .xlsx or CSV."))


def _csv_rows(text: str, delimiter: str, skip: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for n, cells in enumerate(reader, start=1 - skip):
            if n >= 1:
                yield n, _trimmed(cells, n)
    except csv.Error as exc:
        # The reason is Python's csv module's own words, in English.
        raise RosterError("not_a_spreadsheet", _("The CSV file cannot be read near line %(line)s: %(reason)s. Open it "
                                                 "in Excel and save it again as CSV or .xlsx.") % {
            "line": reader.line_num, "reason": exc}) from None


def _parse_csv(data: bytes, max_rows: int) -> RosterParse:
    text = _decode(data)
    if _HTML.match(text):
        raise RosterError("unsupported_format", _("This file is a web page (HTML) or an Excel 2003 XML file, as some "
                                                  "systems export under an .xls name. Open it in Excel and save it as "
                                                  ".xlsx or CSV."))
    if not text.strip():
        raise RosterError("empty", _("The file is empty."))
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
            raise RosterError("empty", _("The file has no values in it."))
        raise _no_header()
    _columns, delimiter, layout = best
    rows = _csv_rows(text, delimiter, skip)
    head = _take_head(rows)
    return _parse_table(rows, layout, head[layout.data_from:], max_rows, "")
