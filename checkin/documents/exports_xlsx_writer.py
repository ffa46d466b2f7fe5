"""A small streaming .xlsx writer: inline strings, numbers, dates, a few fixed styles, frozen panes, widths.

Why not openpyxl here: without lxml its write-only mode serialises each cell through a pure-Python XML
tree and takes ~6 s for a 5,000-cadre, 7-session workbook on our hardware; this writes the same sheets
as plain text in well under a second. openpyxl still reads rosters in and reads our files back in tests.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import IntEnum
from functools import lru_cache
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from openpyxl.utils import get_column_letter

_EPOCH = datetime(1899, 12, 30)
# XML 1.0 forbids most control characters; a stray one from a pasted roster would break the whole file.
_CONTROL = {c: None for c in range(32) if c not in (9, 10, 13)}
CELL_MAX = 32767  # Excel's limit on the characters of one cell
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


class Style(IntEnum):
    """Cell formats, as indexes into the cellXfs of STYLES_XML."""

    NORMAL = 0
    HEADER = 1
    DATE_TIME = 2
    GOOD = 3
    WARN = 4
    MUTED = 5
    BAD = 6
    BOLD = 7


STYLES_XML = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet {_NS}>
<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy hh:mm:ss"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>
<fills count="7"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFDDE7F3"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFD6F5DD"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFFFE8C2"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFE5E7EB"/><bgColor indexed="64"/></patternFill></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FFFAD4D1"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="8">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="0" fillId="3" borderId="0" xfId="0" applyFill="1"/>
<xf numFmtId="0" fontId="0" fillId="4" borderId="0" xfId="0" applyFill="1"/>
<xf numFmtId="0" fontId="0" fillId="5" borderId="0" xfId="0" applyFill="1"/>
<xf numFmtId="0" fontId="0" fillId="6" borderId="0" xfId="0" applyFill="1"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


class Cell:
    """A value with a style other than the default (plain values are written as they are)."""

    __slots__ = ("value", "style")

    def __init__(self, value: object, style: Style):
        self.value = value
        self.style = style


@lru_cache(maxsize=65536)  # names, units and labels repeat on every session sheet
def _text(value: str) -> str:
    value = escape(value.translate(_CONTROL)[:CELL_MAX])
    space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    return f"<is><t{space}>{value}</t></is>"


class Sheet:
    """One worksheet, streamed row by row into the zip; widths and frozen panes come first."""

    def __init__(self, stream: IO[bytes], widths: Sequence[float], freeze: tuple[int, int]):
        self._out = stream
        self._row = 0
        self._letters: list[str] = []
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(widths, start=1)
        )
        frozen_cols, frozen_rows = freeze
        pane = ""
        if frozen_cols or frozen_rows:
            top_left = f"{get_column_letter(frozen_cols + 1)}{frozen_rows + 1}"
            active = {(True, True): "bottomRight", (False, True): "bottomLeft", (True, False): "topRight"}[
                (bool(frozen_cols), bool(frozen_rows))]
            split = (f' xSplit="{frozen_cols}"' if frozen_cols else "") + (f' ySplit="{frozen_rows}"' if frozen_rows else "")
            pane = (f'<pane{split} topLeftCell="{top_left}" activePane="{active}" state="frozen"/>'
                    f'<selection pane="{active}" activeCell="{top_left}" sqref="{top_left}"/>')
        self._write(
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS} {_NS_R}>'
            f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>' + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>"
        )

    def _write(self, text: str) -> None:
        self._out.write(text.encode("utf-8"))

    def _letter(self, index: int) -> str:
        while len(self._letters) <= index:
            self._letters.append(get_column_letter(len(self._letters) + 1))
        return self._letters[index]

    def append(self, values: Iterable[object]) -> None:
        self._row += 1
        r = self._row
        parts = [f'<row r="{r}">']
        for index, value in enumerate(values):
            style = 0
            if isinstance(value, Cell):
                value, style = value.value, int(value.style)
            if value is None or value == "":
                if style:
                    parts.append(f'<c r="{self._letter(index)}{r}" s="{style}"/>')
                continue
            ref = f'{self._letter(index)}{r}'
            s = f' s="{style}"' if style else ""
            if isinstance(value, str):
                parts.append(f'<c r="{ref}"{s} t="inlineStr">{_text(value)}</c>')
            elif isinstance(value, bool):
                parts.append(f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, (int, float)):
                parts.append(f'<c r="{ref}"{s}><v>{value}</v></c>')
            elif isinstance(value, (datetime, date)):
                moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
                if moment.tzinfo is not None:
                    raise ValueError("spreadsheet times are local and naive; convert before writing")
                serial = (moment - _EPOCH).total_seconds() / 86400
                parts.append(f'<c r="{ref}" s="{style or int(Style.DATE_TIME)}"><v>{serial:.8f}</v></c>')
            else:
                parts.append(f'<c r="{ref}"{s} t="inlineStr">{_text(str(value))}</c>')
        parts.append("</row>")
        self._write("".join(parts))

    def close(self) -> None:
        self._write("</sheetData></worksheet>")


class Workbook:
    """workbook = Workbook(file); sheet = workbook.add_sheet(name, widths, freeze); sheet.append(...); workbook.close()."""

    def __init__(self, file: IO[bytes]):
        self._zip = zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names: list[str] = []
        self._open: tuple[IO[bytes], Sheet] | None = None

    def add_sheet(self, name: str, widths: Sequence[float] = (), freeze: tuple[int, int] = (0, 1)) -> Sheet:
        """Sheets are written one after the other: adding one closes the previous."""
        self._close_sheet()
        self._names.append(name)
        stream = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w", force_zip64=True)
        sheet = Sheet(stream, widths, freeze)
        self._open = (stream, sheet)
        return sheet

    def _close_sheet(self) -> None:
        if self._open is not None:
            stream, sheet = self._open
            sheet.close()
            stream.close()
            self._open = None

    def close(self) -> None:
        self._close_sheet()
        n = len(self._names)
        sheets = "".join(
            f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(self._names, 1)
        )
        self._zip.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} {_NS_R}>'
            f'<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets></workbook>'
        ))
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
            f' Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1)
        )
        rels += (f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 f'relationships/styles" Target="styles.xml"/>')
        self._zip.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>'
        ))
        self._zip.writestr("xl/styles.xml", STYLES_XML)
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1)
        )
        self._zip.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{overrides}</Types>'
        ))
        self._zip.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ))
        self._zip.close()
