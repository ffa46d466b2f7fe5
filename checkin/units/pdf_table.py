"""A plain tabular PDF in the bundled font: sections (a unit each) of a title, a line and a table, A4 landscape.
Used by the result notice; drawn in a worker process (checkin.documents.workers).

Drawn by hand (a line per row and per column, one text per cell, the font size fitted to the column) rather
than with fpdf2's table(), which lays out every cell as a paragraph: 4,000 rows took a minute that way, a few
seconds this way."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from ..documents.pdf import FONT_FAMILY, PT_MM, new_document, text_width_em

PAGE_W, PAGE_H, MARGIN = 297.0, 210.0, 12.0
ROW_H, HEAD_H = 6.0, 8.0
TEXT_PT, MIN_PT = 9.0, 6.0


def _fit(text: str, width: float, bold: bool = False) -> tuple[str, float]:
    """The text and a font size at which it fits `width` mm on one line (cut with … when even MIN_PT is too big)."""
    em = text_width_em(text, bold) * PT_MM
    if em <= 0:
        return text, TEXT_PT
    size = min(TEXT_PT, width / em)
    if size >= MIN_PT:
        return text, size
    while text and text_width_em(text + "…", bold) * PT_MM * MIN_PT > width:
        text = text[:-1]
    return text + "…", MIN_PT


class _Table:
    def __init__(self, pdf: FPDF, header: Sequence[str], widths: Sequence[float]):
        self.pdf, self.header, self.widths = pdf, header, widths
        self.top = self.y = 0.0
        self._size = None

    def _font(self, bold: bool, size: float) -> None:
        if self._size != (bold, size):
            self.pdf.set_font(FONT_FAMILY, "B" if bold else "", size)
            self._size = (bold, size)

    def _cells(self, values: Sequence[str], height: float, bold: bool) -> None:
        x = MARGIN
        for value, width in zip(values, self.widths):
            text, size = _fit(str(value), width - 2, bold)
            self._font(bold, size)
            self.pdf.text(x + 1, self.y + height / 2 + size * PT_MM * 0.35, text)
            x += width
        self.y += height
        self.pdf.line(MARGIN, self.y, MARGIN + sum(self.widths), self.y)

    def start(self, y: float) -> None:
        self.top = self.y = y
        self.pdf.set_fill_color(235)
        self.pdf.rect(MARGIN, y, sum(self.widths), HEAD_H, style="F")
        self.pdf.line(MARGIN, y, MARGIN + sum(self.widths), y)
        self._cells(self.header, HEAD_H, True)

    def finish(self) -> None:
        x = MARGIN
        for width in (0, *self.widths):
            x += width
            self.pdf.line(x, self.top, x, self.y)

    def row(self, values: Sequence[str]) -> bool:
        """Add a row; False when the page is full (finish, add a page, start again)."""
        if self.y + ROW_H > PAGE_H - MARGIN:
            return False
        self._cells(values, ROW_H, False)
        return True


def _title(pdf: FPDF, text: str, size: float, y: float, bold: bool = True) -> float:
    text, fitted = _fit(text, PAGE_W - 2 * MARGIN, bold)
    pdf.set_font(FONT_FAMILY, "B" if bold else "", min(size, fitted * size / TEXT_PT))
    pdf.text(MARGIN, y + size * PT_MM, text)
    return y + size * PT_MM * 1.6


def draw_sections(title: str, subtitle: str, header: Sequence[str],
                  sections: Sequence[tuple[str, str, Sequence[Sequence[str]]]]) -> bytes:
    pdf = new_document(title=title, orientation="L")
    pdf.set_line_width(0.2)
    width = PAGE_W - 2 * MARGIN
    # Name and position get more room; each session, "late" and "certificate" share the rest.
    rest = max(1, len(header) - 2)
    widths = [width * 0.22, width * 0.16] + [width * 0.62 / rest] * rest
    for name, summary, rows in sections or [("", "", [])]:
        pdf.add_page()
        y = _title(pdf, title, 12, MARGIN)
        y = _title(pdf, subtitle, 9, y, bold=False)
        y = _title(pdf, name, 13, y + 2)
        y = _title(pdf, summary, 10, y, bold=False)
        table = _Table(pdf, header, widths)
        table.start(y + 1)
        for values in rows:
            if not table.row(values):
                table.finish()
                pdf.add_page()
                y = _title(pdf, name, 11, MARGIN)
                table = _Table(pdf, header, widths)
                table.start(y)
                table.row(values)
        table.finish()
    return bytes(pdf.output())
