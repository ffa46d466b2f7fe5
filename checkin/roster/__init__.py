"""Roster parsing: an organiser's messy .xlsx or CSV participant list -> checked rows, problems and notes.

Pure: reads only the bytes it is given, touches no database. Blocking problems exclude their row;
warnings never do. Row numbers are the ones the organiser sees in Excel (for CSV: the record number,
which is the line number unless a quoted value spans lines).

The package: this module decides the kind of file by its content and hands it to `csv_file` or `xlsx_file`;
`headers` finds the header row and the column layout, `rows` walks the table and checks each row, `values`
cleans cell values (phone numbers, e-mail addresses), and `results` holds what a parse gives back.

Every message (a row's problem, a file that cannot be read) is made with gettext, in the language current when
`parse_roster` runs: the organiser's page language on the web, English on the command line.
"""

from __future__ import annotations

import codecs
import warnings

from ..i18n import gettext as _
from .csv_file import _parse_csv
from .results import RosterError, RosterParse, RosterProblem, RosterRow
from .values import _number, normalise_phone
from .xlsx_file import _check_zip, _parse_xlsx

__all__ = ["RosterError", "RosterParse", "RosterProblem", "RosterRow", "normalise_phone", "parse_roster"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"\x1f\x8b", b"7z\xbc\xaf", b"MZ")


def parse_roster(data: bytes, filename: str, *, max_bytes: int = 5_000_000, max_rows: int = 20_000) -> RosterParse:
    """Read a roster from the bytes of an .xlsx or CSV file. The kind is decided by content, not by name.

    Raises RosterError when the file as a whole cannot be used; everything row-level is in the result."""
    if len(data) > max_bytes:
        raise RosterError("too_large", _("The file is %(size)s MB; a roster may be at most %(limit)s MB.") % {
            "size": _number(len(data) / 1e6, "0.0"), "limit": _number(max_bytes / 1e6, "0.0")})
    if not data.strip():
        raise RosterError("empty", _("The file is empty."))
    if data.startswith(_OLE2_MAGIC):
        # Both old .xls files and password-protected .xlsx files are OLE2 containers.
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise RosterError("encrypted_or_macro", _("This Excel file is password-protected. Remove the password in "
                                                      "Excel and save it again as .xlsx."))
        raise RosterError("unsupported_format", _("This is an old Excel 97-2003 file (.xls). Open it in Excel, choose "
                                                  "Save As \"Excel Workbook (.xlsx)\" or CSV, and upload that."))
    if data.startswith(_ZIP_MAGIC):
        _check_zip(data, filename, max_bytes, max_rows)
        # openpyxl warns about features it drops (data validation, default styles); the preview has nothing
        # to do with those. catch_warnings is process-wide in Python 3.11, an accepted race for a filter.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
            return _parse_xlsx(data, max_rows)
    if data.startswith(_BINARY_MAGIC) or _binary(data):
        raise RosterError("not_a_spreadsheet", _("This file is neither an Excel workbook (.xlsx) nor a CSV text file. "
                                                 "Open the list in Excel and save it as .xlsx or CSV."))
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
