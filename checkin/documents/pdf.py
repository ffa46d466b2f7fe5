"""Shared PDF pieces: the bundled font, documents that use it, fitting text in a box, cut marks, fast fills."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from fpdf import FPDF
from PIL import ImageFont

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"  # checkin/fonts: package data, with its licence
FONT_FAMILY = "BeVietnamPro"
_FONT_FILES = {False: "BeVietnamPro-Regular.ttf", True: "BeVietnamPro-Bold.ttf"}

PT_MM = 25.4 / 72  # one typographic point in millimetres
# Baseline-to-baseline distance, in font sizes. Vietnamese stacks two marks on a vowel (ễ, Ấ), and lower-case
# letters with them reach about 1.0 em above the baseline, so lines need more air than Latin text does.
LINE_SPACING = 1.3
BASELINE_EM = 1.02  # baseline below the top of a line's box, in font sizes

# Advance widths are measured once at this many pixels per em, then scaled: the same line breaks come
# out for the PDF (exact font metrics) and the PNG (Pillow at any size), so both show the same badge.
_MEASURE_PX = 1000


def font_path(bold: bool = False) -> Path:
    """Path of the bundled TTF (Be Vietnam Pro, covers every Vietnamese letter)."""
    return FONT_DIR / _FONT_FILES[bold]


def new_document(*, title: str = "", orientation: str = "P", format: str | tuple[float, float] = "A4") -> FPDF:
    """An mm-unit FPDF with the bundled font registered as FONT_FAMILY ("" and "B"), no automatic page breaks."""
    pdf = FPDF(orientation=orientation, unit="mm", format=format)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.c_margin = 0
    pdf.add_font(FONT_FAMILY, "", str(font_path(False)))
    pdf.add_font(FONT_FAMILY, "B", str(font_path(True)))
    pdf.set_creator("checkin")
    if title:
        pdf.set_title(title)
    return pdf


@lru_cache(maxsize=2)
def _measure_font(bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(bold)), _MEASURE_PX)


@lru_cache(maxsize=8192)
def text_width_em(text: str, bold: bool = False) -> float:
    """Advance width of `text` in ems (multiply by the font size to get a length in the same unit)."""
    return _measure_font(bold).getlength(text) / _MEASURE_PX


@dataclass(frozen=True, slots=True)
class FittedText:
    """Text broken into lines at one font size; `height_mm` is the space the lines take."""

    lines: tuple[str, ...]
    size_pt: float
    bold: bool

    @property
    def line_mm(self) -> float:
        return self.size_pt * PT_MM * LINE_SPACING

    @property
    def height_mm(self) -> float:
        return len(self.lines) * self.line_mm if self.lines else 0.0


def wrap_words(text: str, width_mm: float, size_pt: float, bold: bool = False) -> list[str]:
    """Greedy line breaking at spaces; a word wider than the line is broken between letters, never dropped."""
    limit_em = width_mm / (size_pt * PT_MM)
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width_em(candidate, bold) <= limit_em:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while text_width_em(word, bold) > limit_em and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width_em(word[:cut], bold) > limit_em:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines


def fit_text(
    text: str,
    width_mm: float,
    *,
    max_pt: float,
    min_pt: float,
    max_lines: int,
    bold: bool = False,
    step_pt: float = 0.25,
) -> FittedText:
    """The largest size from max_pt down to min_pt at which `text` wraps into at most `max_lines` lines.

    Text is never cut: if it does not fit even at min_pt, it gets more lines at min_pt (the caller shrinks
    everything further if the box is then too short).
    """
    text = " ".join(text.split())
    if not text:
        return FittedText((), max_pt, bold)
    size = max_pt
    while True:
        lines = wrap_words(text, width_mm, size, bold)
        if len(lines) <= max_lines or size <= min_pt:
            break
        size = max(min_pt, size - step_pt)
    if len(lines) > 1:
        lines = _balance(text, width_mm, size, bold, len(lines))
    return FittedText(tuple(lines), size, bold)


def _balance(text: str, width_mm: float, size_pt: float, bold: bool, count: int) -> list[str]:
    """The same number of lines, broken at the narrowest width that still allows it: no lone last word."""
    lo, hi = width_mm * 0.4, width_mm
    best = wrap_words(text, hi, size_pt, bold)
    for _ in range(7):
        mid = (lo + hi) / 2
        lines = wrap_words(text, mid, size_pt, bold)
        if len(lines) <= count:
            hi, best = mid, lines
        else:
            lo = mid
    return best


# Below this share of their normal size, shrink_to_fit stops shrinking. Only absurd input gets there (a 300-letter
# unit name); it then runs past its box rather than being cut, so nothing typed is ever lost.
_MIN_FACTOR = 0.3


def stack_height(blocks: Sequence[FittedText], gap: float) -> float:
    """Height of text blocks stacked with `gap` mm between them (empty blocks take no space)."""
    shown = [b for b in blocks if b.lines]
    return sum(b.height_mm for b in shown) + gap * max(0, len(shown) - 1)


def shrink_to_fit(fit: Callable[[float], list[FittedText]], gap: float, avail: float) -> tuple[list[FittedText], float]:
    """Blocks from `fit(factor)` at the largest factor (1, 0.9, 0.81, ...) whose stack fits `avail` mm."""
    factor = 1.0
    while True:
        blocks = fit(factor)
        if stack_height(blocks, gap * factor) <= avail or factor * 0.9 < _MIN_FACTOR:
            return blocks, gap * factor
        factor *= 0.9


def draw_text_lines(
    pdf: FPDF, fitted: FittedText, x: float, top: float, width: float, *, align: str = "C", gray: int = 0
) -> float:
    """Draw fitted lines from `top` down inside [x, x+width]; return the y below the last line."""
    if not fitted.lines:
        return top
    pdf.set_font(FONT_FAMILY, "B" if fitted.bold else "", fitted.size_pt)
    pdf.set_text_color(gray)
    line = fitted.line_mm
    baseline = top + fitted.size_pt * PT_MM * BASELINE_EM
    for text in fitted.lines:
        w = pdf.get_string_width(text)
        left = x if align == "L" else x + width - w if align == "R" else x + (width - w) / 2
        pdf.text(left, baseline, text)
        baseline += line
    return top + fitted.height_mm


def fill_rects(pdf: FPDF, rects: Iterable[tuple[float, float, float, float]], gray: float = 0.0) -> None:
    """Fill many (x, y, w, h) mm rectangles as ONE path on the current page.

    fpdf2 has no public call for a raw path; rect() per rectangle costs a Python call and an operator each,
    and separately filled neighbours can show hairline seams where anti-aliased edges meet. One path of
    `re` sub-paths filled once is smaller, faster, and seamless, so this writes the operators directly.
    """
    k = pdf.k
    page_h = pdf.h
    ops = [f"q {gray:.3f} g"]
    ops.extend(f"{x * k:.2f} {(page_h - y - h) * k:.2f} {w * k:.2f} {h * k:.2f} re" for x, y, w, h in rects)
    ops.append("f Q")
    pdf._out("\n".join(ops))  # noqa: SLF001 - see docstring


def draw_cut_marks(
    pdf: FPDF,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    gap: float = 1.5,
    length: float = 5.0,
) -> None:
    """Crop marks in the page margins, in line with every cut: vertical cuts at `xs`, horizontal at `ys`.

    Marks stay `gap` mm outside the grid so that nothing is printed on a badge; a faint hairline along each
    cut helps whoever cuts with scissors rather than a guillotine (it lands on the cut, not on a badge).
    """
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]
    pdf.set_draw_color(215)
    pdf.set_line_width(0.1)
    for x in xs:
        pdf.line(x, top, x, bottom)
    for y in ys:
        pdf.line(left, y, right, y)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    for x in xs:
        pdf.line(x, top - gap, x, max(0.0, top - gap - length))
        pdf.line(x, bottom + gap, x, min(pdf.h, bottom + gap + length))
    for y in ys:
        pdf.line(left - gap, y, max(0.0, left - gap - length), y)
        pdf.line(right + gap, y, min(pdf.w, right + gap + length), y)

