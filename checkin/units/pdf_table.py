"""A plain tabular PDF in the bundled font: sections (a unit each) of a title, a line and a table, A4 landscape.
Used by the result notice; drawn in a worker process (checkin.documents.workers)."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf.fonts import FontFace

from ..documents.pdf import FONT_FAMILY, new_document

PAGE_W, PAGE_H, MARGIN = 297.0, 210.0, 12.0


def draw_sections(title: str, subtitle: str, header: Sequence[str],
                  sections: Sequence[tuple[str, str, Sequence[Sequence[str]]]]) -> bytes:
    pdf = new_document(title=title, orientation="L")
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.c_margin = 1.0
    width = PAGE_W - 2 * MARGIN
    # Name and position get more room; each session, "late" and "certificate" share the rest.
    rest = max(1, len(header) - 2)
    widths = [width * 0.22, width * 0.16] + [width * 0.62 / rest] * rest
    for name, summary, rows in sections or [("", "", [])]:
        pdf.add_page()
        pdf.set_font(FONT_FAMILY, "B", 12)
        pdf.multi_cell(width, 6, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 9)
        pdf.multi_cell(width, 5, subtitle, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font(FONT_FAMILY, "B", 13)
        pdf.multi_cell(width, 7, name, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, "", 10)
        pdf.multi_cell(width, 6, summary, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font(FONT_FAMILY, "", 9)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=5, first_row_as_headings=True,
                       headings_style=FontFace(emphasis="BOLD", size_pt=8, fill_color=(235, 235, 235))) as table:
            head = table.row()
            for cell in header:
                head.cell(cell)
            for values in rows:
                row = table.row()
                for cell in values:
                    row.cell(cell)
    return bytes(pdf.output())
