"""QR codes and printable badges: one layout plan per badge, painted as PDF sheets or as a PNG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable
from xml.sax.saxutils import quoteattr

import qrcode
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from checkin.documents.pdf import BASELINE_EM, PT_MM, FittedText, draw_cut_marks, draw_text_lines, fill_rects, fit_text, shrink_to_fit, stack_height, font_path, new_document
from checkin.text import clean, fold

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


@dataclass(frozen=True, slots=True)
class BadgeCard:
    code: str  # the badge code; the QR encodes exactly this text, nothing else
    full_name: str
    unit: str
    position: str
    course_title: str
    course_date: str  # already formatted for display, e.g. "27/11/2026"
    venue: str = ""


@dataclass(frozen=True, slots=True)
class Layout:
    """Badges of badge_w x badge_h mm in a cols x rows grid centred on a page_w x page_h mm page."""

    name: str
    description: str
    page_w: float
    page_h: float
    cols: int
    rows: int
    badge_w: float
    badge_h: float
    cut_marks: bool

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def left(self) -> float:
        return (self.page_w - self.cols * self.badge_w) / 2

    @property
    def top(self) -> float:
        return (self.page_h - self.rows * self.badge_h) / 2

    def origins(self) -> list[tuple[float, float]]:
        """Top-left corner of each badge slot on a page, row by row."""
        return [
            (self.left + c * self.badge_w, self.top + r * self.badge_h)
            for r in range(self.rows)
            for c in range(self.cols)
        ]

    def cut_lines(self) -> tuple[list[float], list[float]]:
        xs = [self.left + c * self.badge_w for c in range(self.cols + 1)]
        ys = [self.top + r * self.badge_h for r in range(self.rows + 1)]
        return xs, ys


# Multi-up badges are a little smaller than true A7 / A6: exact A7 or A6 tiles fill an A4 sheet to its edge,
# leaving no margin for the crop marks, which most office printers cannot print within ~5 mm of the edge.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("a4-8", "8 badges (about A7, 68 x 98 mm) per A4, with cut marks", 297, 210, 4, 2, 68, 98, True),
        Layout("a4-4", "4 badges (about A6, 98 x 138 mm) per A4, with cut marks", 210, 297, 2, 2, 98, 138, True),
        Layout("a6", "one A6 badge (105 x 148 mm) per page", 105, 148, 1, 1, 105, 148, False),
        Layout("cr80", "one ID-card badge (CR80, 85.6 x 54 mm) per page", 85.6, 54, 1, 1, 85.6, 54, False),
    )
}


def _layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown badge layout {name!r}; choose one of {', '.join(LAYOUTS)}") from None


# --- QR ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=2048)
def _qr_modules(code: str) -> tuple[tuple[bool, ...], ...]:
    if not code:
        raise ValueError("a badge code is required for its QR")
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(code)
    qr.make(fit=True)
    return tuple(tuple(bool(cell) for cell in row) for row in qr.get_matrix())


def qr_matrix(code: str) -> list[list[bool]]:
    """Modules of the QR for `code` (error correction M), True = dark, without the quiet zone."""
    return [list(row) for row in _qr_modules(code)]


@lru_cache(maxsize=2048)
def _dark_rects(code: str) -> tuple[tuple[int, int, int, int], ...]:
    """Dark modules as (x, y, w, h) rectangles in module units: runs per row, equal runs in
    consecutive rows merged into one taller rectangle. About 4x fewer shapes than modules."""
    modules = _qr_modules(code)
    open_runs: dict[tuple[int, int], tuple[int, int]] = {}  # (x, w) -> (y0, h)
    rects: list[tuple[int, int, int, int]] = []
    for y, row in enumerate(modules):
        runs: set[tuple[int, int]] = set()
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.add((start, x - start))
            else:
                x += 1
        for key in [k for k in open_runs if k not in runs]:
            y0, h = open_runs.pop(key)
            rects.append((key[0], y0, key[1], h))
        for key in runs:
            y0, h = open_runs.get(key, (y, 0))
            open_runs[key] = (y0, h + 1)
    rects.extend((x, y0, w, h) for (x, w), (y0, h) in open_runs.items())
    rects.sort(key=lambda r: (r[1], r[0]))
    return tuple(rects)


def _qr_image(code: str, module_px: int, border: int) -> Image.Image:
    modules = _qr_modules(code)
    n = len(modules) + 2 * border
    pad = b"\xff" * border
    raw = b"".join(pad + bytes(0 if dark else 255 for dark in row) + pad for row in modules)
    blank = b"\xff" * (n * border)
    img = Image.frombytes("L", (n, n), blank + raw + blank)
    return img.resize((n * module_px, n * module_px), Image.Resampling.NEAREST)


def qr_png(code: str, *, scale: int = 10, border: int = QUIET_ZONE) -> bytes:
    """The QR as a black-on-white PNG, `scale` pixels per module, `border` modules of quiet zone."""
    if scale < 1 or border < 0:
        raise ValueError("scale must be >= 1 and border >= 0")
    buf = io.BytesIO()
    _qr_image(code, scale, border).convert("1").save(buf, "PNG", optimize=True)
    return buf.getvalue()


def qr_svg(code: str, *, border: int = QUIET_ZONE) -> str:
    """The QR as a standalone SVG in module units (viewBox), black on white; scale it with CSS."""
    if border < 0:
        raise ValueError("border must be >= 0")
    n = len(_qr_modules(code)) + 2 * border
    d = "".join(f"M{x + border} {y + border}h{w}v{h}h-{w}z" for x, y, w, h in _dark_rects(code))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/><path fill="#000" d={quoteattr(d)}/></svg>'
    )


# --- one badge, planned once, painted twice ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    fitted: FittedText
    x: float
    top: float
    width: float
    align: str = "C"
    gray: int = 0


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything on one badge, in mm from its top-left corner."""

    width: float
    height: float
    code: str
    qr_x: float  # outer corner of the quiet zone
    qr_y: float
    qr_size: float  # including the quiet zone
    texts: tuple[_Text, ...]
    logo_box: tuple[float, float, float, float] | None


def _fit_person(card: BadgeCard, width: float, avail: float, s: float) -> tuple[list[FittedText], float]:
    """Name, position and unit, shrunk together until they fit `avail` mm of height; returns blocks and gap."""
    name, position, unit = clean(card.full_name), clean(card.position), clean(card.unit)

    def fit(f: float) -> list[FittedText]:
        return [
            fit_text(name, width, max_pt=15 * s * f, min_pt=8 * s * f, max_lines=2, bold=True),
            fit_text(position, width, max_pt=9 * s * f, min_pt=6 * s * f, max_lines=2),
            fit_text(unit, width, max_pt=9 * s * f, min_pt=5.5 * s * f, max_lines=3),
        ]

    return shrink_to_fit(fit, 1.2 * s, avail)


def _place_stack(blocks: list[FittedText], gap: float, x: float, top: float, width: float, avail: float) -> list[_Text]:
    y = top + max(0.0, (avail - stack_height(blocks, gap)) / 2)
    placed: list[_Text] = []
    grays = (0, 70, 20)  # name black, position grey, unit near-black
    for block, gray in zip(blocks, grays):
        if not block.lines:
            continue
        placed.append(_Text(block, x, y, width, "C", gray))
        y += block.height_mm + gap
    return placed


def _header(card: BadgeCard, x: float, top: float, width: float, s: float, avail: float) -> list[_Text]:
    """Course title, then date and venue, left-aligned, shrunk to at most `avail` mm of height."""
    title_text = clean(card.course_title)
    meta_text = " · ".join(part for part in (clean(card.course_date), clean(card.venue)) if part)

    def fit(f: float) -> list[FittedText]:
        return [
            fit_text(title_text, width, max_pt=8 * s * f, min_pt=5 * s * f, max_lines=2, bold=True),
            fit_text(meta_text, width, max_pt=7 * s * f, min_pt=5 * s * f, max_lines=2),
        ]

    (title, meta), _ = shrink_to_fit(fit, 0.0, avail)
    texts = [_Text(title, x, top, width, "L", 0)] if title.lines else []
    if meta.lines:
        texts.append(_Text(meta, x, top + title.height_mm, width, "L", 60))
    return texts


def _scale(width: float, height: float) -> float:
    """Type scale relative to the reference badge (68 mm wide portrait, 54 mm high landscape)."""
    return (width / 68) if height >= width else (height / 54)


def _logo_side(width: float, height: float) -> float:
    return (11 if height >= width else 9) * _scale(width, height)


def _plan_badge(card: BadgeCard, width: float, height: float, has_logo: bool) -> _Plan:
    portrait = height >= width
    s = _scale(width, height)
    pad = max(2.5, 0.05 * min(width, height) if not portrait else 0.05 * width)
    logo_side = _logo_side(width, height)
    logo_box = (pad, pad, logo_side, logo_side) if has_logo else None
    head_x = pad + (logo_side + 2 * s if has_logo else 0)
    header = _header(card, head_x, pad, width - pad - head_x, s, (0.17 if portrait else 0.24) * height)
    header_h = max(logo_side if has_logo else 0, sum(t.fitted.height_mm for t in header))
    qr_top = pad + header_h + 1.5 * s

    if portrait:
        qr_size = min(width - 2 * pad, 0.48 * height)
        text_top = qr_top + qr_size
        avail = height - pad - text_top
        blocks, gap = _fit_person(card, width - 2 * pad, avail, s)
        # If the text still does not fit, the QR gives up some height (never below 38 % of the badge,
        # still ~1 mm per module on the smallest layout).
        overflow = stack_height(blocks, gap) - avail
        if overflow > 0:
            shrink = max(0.0, min(overflow, qr_size - 0.38 * height))
            qr_size -= shrink
            text_top -= shrink
            avail += shrink
        qr_x = (width - qr_size) / 2
        person = _place_stack(blocks, gap, pad, text_top, width - 2 * pad, avail)
    else:
        qr_size = min(height - pad - qr_top, 0.5 * width)
        qr_x = pad * 0.5  # the quiet zone is white anyway; lean into the edge padding for a bigger code
        text_x = qr_x + qr_size + 0.5 * s
        text_w = width - pad - text_x
        blocks, gap = _fit_person(card, text_w, qr_size, s)
        person = _place_stack(blocks, gap, text_x, qr_top, text_w, qr_size)

    return _Plan(width, height, card.code, qr_x, qr_top, qr_size, tuple(header + person), logo_box)


def _qr_geometry(plan: _Plan) -> tuple[int, float]:
    modules = len(_qr_modules(plan.code)) + 2 * QUIET_ZONE
    return modules, plan.qr_size / modules


# --- PDF --------------------------------------------------------------------------------------------------


def _paint_pdf(pdf: FPDF, plan: _Plan, ox: float, oy: float, logo: io.BytesIO | None) -> None:
    _, module = _qr_geometry(plan)
    qx = ox + plan.qr_x + QUIET_ZONE * module
    qy = oy + plan.qr_y + QUIET_ZONE * module
    fill_rects(pdf, ((qx + x * module, qy + y * module, w * module, h * module) for x, y, w, h in _dark_rects(plan.code)))
    for t in plan.texts:
        draw_text_lines(pdf, t.fitted, ox + t.x, oy + t.top, t.width, align=t.align, gray=t.gray)
    if logo is not None and plan.logo_box is not None:
        x, y, w, h = plan.logo_box
        logo.seek(0)
        pdf.image(logo, x=ox + x, y=oy + y, w=w, h=h, keep_aspect_ratio=True)


def _check_logo(logo: bytes | None) -> None:
    if logo is None:
        return
    image = open_logo(logo)
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as exc:  # Pillow raises several types for undecodable input
        raise LogoRefused("logo_not_image", "logo must be a PNG or JPEG image") from exc


def badge_sheets_pdf(
    cards: Iterable[BadgeCard],
    layout: str = "a4-8",
    *,
    logo: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Printable PDF of badges in the order given (see sort_cards), `layout` from LAYOUTS.

    The QR is vector rectangles, names are real text in the bundled font. `progress(done, total)` counts
    badges and is called once per finished page.
    """
    spec = _layout(layout)
    cards = list(cards)
    if not cards:
        raise ValueError("no badges to print")
    _check_logo(logo)
    logo_io = io.BytesIO(logo) if logo is not None else None
    orientation = "L" if spec.page_w > spec.page_h else "P"
    pdf = new_document(
        title=clean(cards[0].course_title) or "Badges",
        orientation=orientation,
        format=(min(spec.page_w, spec.page_h), max(spec.page_w, spec.page_h)),
    )
    origins = spec.origins()
    total = len(cards)
    for start in range(0, total, spec.per_page):
        pdf.add_page()
        chunk = cards[start : start + spec.per_page]
        for (ox, oy), card in zip(origins, chunk):
            _paint_pdf(pdf, _plan_badge(card, spec.badge_w, spec.badge_h, logo is not None), ox, oy, logo_io)
        if spec.cut_marks:
            draw_cut_marks(pdf, *spec.cut_lines())
        if progress is not None:
            progress(start + len(chunk), total)
    return bytes(pdf.output())


# --- logo -------------------------------------------------------------------------------------------------

LOGO_MAX_SIDE = 4000  # px: the largest upload, read from the file's header before any pixel is decoded
# The largest logo a badge prints is 17 mm (on the a6 badge): 600 px is ~900 dpi there. An upload is kept at most
# this size, so that printing or drawing a badge never decodes a 4000 px logo.
LOGO_KEPT_SIDE = 600


class LogoRefused(ValueError):
    """An image that cannot be a logo; `code` says why: logo_not_image or logo_too_big."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # arrives whole from a worker process
        return (type(self), (self.code, str(self)))


def open_logo(data: bytes) -> Image.Image:
    """The logo with its header read and its pixels not yet decoded: PNG or JPEG only (no other decoder, such as
    EPS's Ghostscript, ever sees the bytes), at most LOGO_MAX_SIDE px a side, so that a small file declaring a huge
    size (a decoding bomb) is refused before it is decoded. Raises LogoRefused."""
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own limit, far above ours
        raise LogoRefused("logo_too_big", f"logo must be at most {LOGO_MAX_SIDE} px a side") from None
    except Exception:  # Pillow raises several types for what it cannot identify
        raise LogoRefused("logo_not_image", "logo must be a PNG or JPEG image") from None
    if max(image.size) > LOGO_MAX_SIDE:
        raise LogoRefused("logo_too_big", f"logo must be at most {LOGO_MAX_SIDE} px a side")
    return image


def _fit(image: Image.Image, side: int) -> Image.Image:
    """`image` decoded and scaled down to fit a `side` px square, its aspect kept. A JPEG is decoded at a reduced
    size straight away (draft), so even a 4000 px one costs a few MB, not 48."""
    try:
        image.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return image
    except MemoryError:
        raise
    except Exception as exc:  # truncated or corrupt pixel data
        raise LogoRefused("logo_not_image", "logo must be a PNG or JPEG image") from exc


def shrink_logo(data: bytes) -> tuple[str, bytes]:
    """An uploaded logo as it is kept: (content type, bytes). At most LOGO_KEPT_SIDE px a side it is kept as it
    came (after a full decode, to know it is whole); larger, it is scaled down to that, its aspect and format kept."""
    image = open_logo(data)
    content_type = "image/png" if image.format == "PNG" else "image/jpeg"
    if max(image.size) <= LOGO_KEPT_SIDE:
        _fit(image, LOGO_KEPT_SIDE)  # decodes it: a truncated file is refused here, not when a badge is printed
        return content_type, data
    if image.format == "PNG":
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA")  # palette and 16-bit images scale badly or not at all as they are
        kept = io.BytesIO()
        _fit(image, LOGO_KEPT_SIDE).save(kept, "PNG", optimize=True)
    else:
        image = _fit(image, LOGO_KEPT_SIDE)
        kept = io.BytesIO()
        (image if image.mode in ("L", "RGB") else image.convert("RGB")).save(kept, "JPEG", quality=92)
    return content_type, kept.getvalue()


def logo_mark(data: bytes, side: int) -> Image.Image:
    """The logo decoded, in RGBA, fitting a `side` px square: ready to paste on badges of that size."""
    image = open_logo(data)
    if image.mode not in ("RGB", "RGBA", "L", "LA") and image.format == "PNG":
        image = image.convert("RGBA")
    return _fit(image, side).convert("RGBA")


def logo_box_px(layout: str = "a4-8", dpi: int = 300) -> int:
    """The side, in px, of the square a logo fills on a `layout` badge drawn at `dpi`."""
    spec = _layout(layout)
    return round(_logo_side(spec.badge_w, spec.badge_h) * dpi / 25.4)


# --- PNG --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _pil_font(bold: bool, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(bold)), px)


def badge_png(card: BadgeCard, *, dpi: int = 300, layout: str = "a4-8",
              logo: bytes | Image.Image | None = None) -> bytes:
    """One badge as a PNG at print resolution (the size of a `layout` badge at `dpi`, dpi recorded in the file).

    `logo`: the logo's bytes (checked and decoded here), or a mark made by `logo_mark` (a server draws many badges
    from one logo: it decodes it once)."""
    spec = _layout(layout)
    box = logo_box_px(layout, dpi)
    logo_img = logo_mark(logo, box) if isinstance(logo, bytes) else logo
    plan = _plan_badge(card, spec.badge_w, spec.badge_h, logo_img is not None)
    px = dpi / 25.4
    size = (round(plan.width * px), round(plan.height * px))
    img = Image.new("RGB" if logo_img is not None else "L", size, "white")
    draw = ImageDraw.Draw(img)

    modules, _ = _qr_geometry(plan)
    module_px = max(1, int(plan.qr_size * px / modules))  # whole pixels per module keep every edge sharp
    qr = _qr_image(plan.code, module_px, QUIET_ZONE)
    centre_x, centre_y = (plan.qr_x + plan.qr_size / 2) * px, (plan.qr_y + plan.qr_size / 2) * px
    img.paste(qr, (round(centre_x - qr.width / 2), round(centre_y - qr.height / 2)))

    for t in plan.texts:
        f = t.fitted
        font = _pil_font(f.bold, max(1, round(f.size_pt / 72 * dpi)))
        fill = (t.gray,) * 3 if img.mode == "RGB" else t.gray
        baseline = t.top + f.size_pt * PT_MM * BASELINE_EM
        for line in f.lines:
            if t.align == "L":
                draw.text((t.x * px, baseline * px), line, font=font, fill=fill, anchor="ls")
            else:
                draw.text(((t.x + t.width / 2) * px, baseline * px), line, font=font, fill=fill, anchor="ms")
            baseline += f.line_mm

    if logo_img is not None and plan.logo_box is not None:
        x, y, _w, _h = plan.logo_box
        mark = logo_img.convert("RGBA") if logo_img.mode != "RGBA" else logo_img
        if max(mark.size) > box:
            mark = mark.copy()
            mark.thumbnail((box, box), Image.Resampling.LANCZOS)
        img.paste(mark, (round(x * px), round(y * px)), mark)

    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(dpi, dpi), compress_level=3)
    return buf.getvalue()


# --- order ------------------------------------------------------------------------------------------------


def _given_name(full_name: str) -> str:
    parts = fold(full_name).split()
    return parts[-1] if parts else ""


def sort_cards(cards: Iterable[BadgeCard]) -> list[BadgeCard]:
    """Badges by unit, then by name as Vietnamese lists do it: given name (last word) first, then the full
    name; diacritics and case ignored (checkin.text.fold), the exact text breaking ties."""
    return sorted(
        cards,
        key=lambda c: (fold(c.unit), _given_name(c.full_name), fold(c.full_name), clean(c.unit), clean(c.full_name), c.code),
    )
