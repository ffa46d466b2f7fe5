"""The term report's charts as inline SVG drawn on the server: no script, no CDN, prints as it shows."""

from __future__ import annotations

from xml.sax.saxutils import escape

from markupsafe import Markup

from .term_report import TermReport

BAR = "#2563eb"
SOFT = "#93c5fd"


def units_ranked(report: TermReport, measure: str, title: str) -> Markup:
    """Horizontal bars: each unit's share of nominations with `measure`, best first."""
    ranked = report.ranked_units(measure)
    row, label_w, bar_w = 18, 260, 300
    height = row * len(ranked) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + bar_w + 50} {height}" role="img"'
             f' aria-label="{escape(title, {chr(34): "&quot;"})}"><title>{escape(title)}</title>']
    for i, (_unit, name, pct) in enumerate(ranked):
        y = 12 + i * row
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" font-size="11">{escape(name[:42] or "—")}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * pct / 100:.1f}" height="{row - 5}" fill="{BAR}"/>')
        parts.append(f'<text x="{label_w + bar_w * pct / 100 + 4:.1f}" y="{y + 12}" font-size="11">{pct}%</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def courses_over_time(report: TermReport, title: str) -> Markup:
    """Vertical bars per course in date order: nominated (light) and attended (dark)."""
    courses = report.courses
    most = max([report.course_totals[c.id].nominated for c in courses] + [1])
    col, height, top = 28, 160, 10
    width = col * len(courses) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 60}" role="img"'
             f' aria-label="{escape(title, {chr(34): "&quot;"})}"><title>{escape(title)}</title>']
    for i, c in enumerate(courses):
        cell = report.course_totals[c.id]
        x = 30 + i * col
        for value, colour, inset in ((cell.nominated, SOFT, 0), (cell.attended, BAR, 5)):
            h = height * value / most
            parts.append(f'<rect x="{x + inset}" y="{top + height - h:.1f}" width="{col - 6 - 2 * inset}"'
                         f' height="{h:.1f}" fill="{colour}"><title>{escape(c.title)}: {value}</title></rect>')
        parts.append(f'<text x="{x + col / 2 - 3}" y="{top + height + 14}" font-size="9" text-anchor="end"'
                     f' transform="rotate(-45 {x + col / 2 - 3} {top + height + 14})">{c.course_date:%m/%Y}</text>')
    parts.append(f'<text x="2" y="{top + 8}" font-size="9">{most}</text></svg>')
    return Markup("".join(parts))
