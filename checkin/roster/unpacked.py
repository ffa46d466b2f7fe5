"""What an .xlsx may unpack to. Every part of the zip is read once as it streams: its unpacked bytes are counted
(per part and in total) and its XML is counted element by element (shared strings, rows, cells), and the first limit
passed stops the read. A zip bomb (584 kB that unpacks to 240 MB of texts or rows) is so refused in about a second,
before openpyxl builds anything from it; a real roster is read twice, which costs a few milliseconds.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.parsers import expat

from ..i18n import gettext as _
from .results import RosterError
from .values import _number

MB = 1_000_000
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    """What a workbook may unpack to. A 20,000-row roster with 30 columns is about 30 MB of sheet XML and at most
    200,000 different texts; openpyxl takes ~30 s per million cells on a small server, so the counts matter more
    than the bytes."""

    part_bytes: int  # one part, e.g. a sheet
    total_bytes: int  # all parts together
    shared_strings_bytes: int  # the workbook's table of texts (xl/sharedStrings.xml), read whole when it opens
    shared_strings: int
    rows: int
    cells: int
    roster_rows: int  # the participant rows a roster may have, for the messages

    @classmethod
    def for_roster(cls, max_rows: int, max_bytes: int) -> "UnpackLimits":
        # An xlsx is XML that compresses 10-20x: 50x the largest upload is already more than a real file.
        total = min(128 * MB, 50 * max_bytes)
        return cls(part_bytes=min(64 * MB, total), total_bytes=total, shared_strings_bytes=min(32 * MB, total),
                   shared_strings=10 * max_rows, rows=5 * max_rows + 1000, cells=30 * max_rows, roster_rows=max_rows)


class _Tally:
    """Elements seen so far in every part; raises RosterError when one passes its limit."""

    def __init__(self, limits: UnpackLimits) -> None:
        self.limits = limits
        self.strings = self.rows = self.cells = 0

    def start(self, name: str, _attributes: object) -> None:
        local = name.rpartition(":")[2]  # "x:row" and "row" alike: some writers prefix the spreadsheet namespace
        if local == "c":
            self.cells += 1
            if self.cells > self.limits.cells:
                raise _too_many_cells(self.limits)
        elif local == "row":
            self.rows += 1
            if self.rows > self.limits.rows:
                raise _too_many_rows(self.limits)
        elif local == "si":
            self.strings += 1
            if self.strings > self.limits.shared_strings:
                raise _too_many_strings(self.limits)


def check_unpacked(data: bytes, limits: UnpackLimits) -> None:
    """Raise RosterError (code too_large, the message naming the limit) when the workbook in `data` unpacks to
    more than `limits` allow. The sizes the zip declares are checked first, then what really comes out.
    A damaged zip raises what zipfile and zlib raise."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        for info in infos:
            _check_part_size(info.filename, info.file_size, limits)
        if sum(info.file_size for info in infos) > limits.total_bytes:
            raise _too_large_in_total(limits)
        tally = _Tally(limits)
        total = 0
        for info in infos:
            total = _read_part(archive, info, tally, total)


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, tally: _Tally, total: int) -> int:
    parser = None
    if info.filename.lower().endswith(".xml"):
        parser = expat.ParserCreate()
        parser.StartElementHandler = tally.start
    size = 0
    with archive.open(info) as source:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            total += len(chunk)
            _check_part_size(info.filename, size, tally.limits)
            if total > tally.limits.total_bytes:
                raise _too_large_in_total(tally.limits)
            if parser is not None:
                try:
                    parser.Parse(chunk, False)
                except expat.ExpatError:
                    parser = None  # not well-formed: openpyxl stops at the same place, so counting can too
    return total


def _check_part_size(name: str, size: int, limits: UnpackLimits) -> None:
    if size > limits.shared_strings_bytes and name.lower().endswith("sharedstrings.xml"):
        raise RosterError("too_large", _("The texts of this workbook unpack to more than %(limit)s MB, far more than a "
                                         "roster of at most %(rows)s participants needs; save only the participant "
                                         "list as a new .xlsx or CSV file.") % {
            "limit": _number(limits.shared_strings_bytes / MB), "rows": _number(limits.roster_rows)})
    if size > limits.part_bytes:
        raise RosterError("too_large", _('The part "%(part)s" of this workbook unpacks to more than %(limit)s MB, far '
                                         "more than a roster of at most %(rows)s participants needs; save only the "
                                         "participant list as a new .xlsx or CSV file.") % {
            "part": name[:100], "limit": _number(limits.part_bytes / MB), "rows": _number(limits.roster_rows)})


def _too_large_in_total(limits: UnpackLimits) -> RosterError:
    return RosterError("too_large", _("This workbook unpacks to more than %(limit)s MB, far more than a roster of at "
                                      "most %(rows)s participants needs; save only the participant list as a new "
                                      ".xlsx or CSV file.") % {
        "limit": _number(limits.total_bytes / MB), "rows": _number(limits.roster_rows)})


def _too_many_strings(limits: UnpackLimits) -> RosterError:
    return RosterError("too_large", _("This workbook holds more than %(limit)s different texts, far more than a roster "
                                      "of at most %(rows)s participants needs; save only the participant list as a "
                                      "new .xlsx or CSV file.") % {
        "limit": _number(limits.shared_strings), "rows": _number(limits.roster_rows)})


def _too_many_rows(limits: UnpackLimits) -> RosterError:
    return RosterError("too_large", _("This workbook has more than %(limit)s rows, far more than a roster of at most "
                                      "%(rows)s participants needs; save only the participant list as a new .xlsx or "
                                      "CSV file.") % {
        "limit": _number(limits.rows), "rows": _number(limits.roster_rows)})


def _too_many_cells(limits: UnpackLimits) -> RosterError:
    return RosterError("too_large", _("This workbook has more than %(limit)s cells, far more than a roster of at most "
                                      "%(rows)s participants needs; save only the participant list as a new .xlsx or "
                                      "CSV file.") % {
        "limit": _number(limits.cells), "rows": _number(limits.roster_rows)})
