"""Badges and QR codes, checked by reading back what was drawn: zxing-cpp decodes, pdfium renders and extracts."""

from __future__ import annotations

import io
import re
import unicodedata
import xml.etree.ElementTree as ET

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from PIL import Image

from checkin.documents.badges import LAYOUTS, BadgeCard, badge_png, badge_sheets_pdf, qr_matrix, qr_png, qr_svg, sort_cards
from checkin.documents.pdf import fit_text, text_width_em

LONGEST_NAME = "Tôn Nữ Hoàng Thị Phương Quỳnh Nguyễn Ngọc Bảo Châu"
LONGEST_UNIT = "Đoàn Thanh niên Ban Quản lý các Khu chế xuất và Khu công nghiệp thành phố Hải Phòng"
NAMES = [
    LONGEST_NAME,
    "Nguyễn Thị Hương",
    "Trần Văn Đức",
    "Lê Hoàng Yến",
    "Phạm Quốc Ấn",
    "Võ Thị Ngọc Hân",
    "Đặng Minh Khôi",
    "Bùi Thị Ỷ Lan",
    "Hồ Sỹ Dũng",
    "Đỗ Thị Thu Hằng",
    "Ngô Bảo Châu",
]
UNITS = [LONGEST_UNIT, "Đoàn Sở Tư pháp", "Chi đoàn Văn phòng Thành ủy", "Đoàn Sở Y tế"]


def make_card(i: int, name: str | None = None, unit: str | None = None, **extra: str) -> BadgeCard:
    # Codes shaped like the real ones: 22 URL-safe characters, '-' and '_' included.
    code = f"Bx{i:04d}-kq_Z9vLmT3wRy{i % 10}"
    return BadgeCard(
        code=code,
        full_name=name if name is not None else NAMES[i % len(NAMES)],
        unit=unit if unit is not None else UNITS[i % len(UNITS)],
        position="Phó Bí thư Chi đoàn" if i % 2 else "Bí thư",
        course_title="Lớp bồi dưỡng cán bộ Đoàn chủ chốt năm 2026",
        course_date="27/11/2026",
        **extra,
    )


def cards(n: int) -> list[BadgeCard]:
    return [make_card(i, LONGEST_NAME if i == 0 else None, LONGEST_UNIT if i == 0 else None) for i in range(n)]


def png_logo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 30, 40)).save(buf, "PNG")
    return buf.getvalue()


def decoded_codes(pdf_bytes: bytes, dpi: int = 150) -> list[list[str]]:
    """QR texts found on each page rendered at `dpi`."""
    doc = pdfium.PdfDocument(pdf_bytes)
    pages = []
    for page in doc:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        pages.append([b.text for b in found])
    return pages


def page_text(pdf_bytes: bytes) -> str:
    doc = pdfium.PdfDocument(pdf_bytes)
    text = " ".join(page.get_textpage().get_text_range() for page in doc)
    return re.sub(r"\s+", " ", text)


# --- QR --------------------------------------------------------------------------------------------------


def test_qr_matrix_is_square_and_small_for_a_22_character_code():
    matrix = qr_matrix(make_card(1).code)
    assert len(matrix) == 25  # version 2 at level M holds 26 bytes
    assert all(len(row) == 25 for row in matrix)
    assert matrix[0][:7] == [True] * 7  # finder pattern, no quiet zone included


@pytest.mark.parametrize("scale,border", [(10, 4), (4, 4), (8, 6)])
def test_qr_png_decodes_to_exactly_the_code_at_level_m(scale, border):
    code = make_card(7).code
    image = Image.open(io.BytesIO(qr_png(code, scale=scale, border=border)))
    assert image.size == ((25 + 2 * border) * scale,) * 2
    [found] = zxingcpp.read_barcodes(image)
    assert (found.text, found.ec_level) == (code, "M")


@pytest.mark.parametrize("border", [4, 0, 2])
def test_qr_svg_is_xml_with_viewbox_and_paints_exactly_the_dark_modules(border):
    code = make_card(3).code
    root = ET.fromstring(qr_svg(code, border=border))
    n = 25 + 2 * border
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == f"0 0 {n} {n}"
    path = root.find("{http://www.w3.org/2000/svg}path")
    painted = [[False] * n for _ in range(n)]
    for x, y, w, h in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)h-\d+z", path.get("d")):
        for yy in range(int(y), int(y) + int(h)):
            for xx in range(int(x), int(x) + int(w)):
                assert not painted[yy][xx], "rectangles overlap"
                painted[yy][xx] = True
    expected = [[False] * n for _ in range(n)]
    for y, row in enumerate(qr_matrix(code)):
        for x, dark in enumerate(row):
            expected[y + border][x + border] = dark
    assert painted == expected


def test_empty_code_is_refused():
    with pytest.raises(ValueError):
        qr_matrix("")


# --- PDF sheets ------------------------------------------------------------------------------------------


def test_every_qr_on_a4_8_sheets_decodes_to_its_badge_code():
    batch = cards(11)  # one full page and a partial one; the first card has the longest name and unit
    pages = decoded_codes(badge_sheets_pdf(batch, "a4-8"))
    assert [len(p) for p in pages] == [8, 3]
    found = [code for page in pages for code in page]
    assert sorted(found) == sorted(c.code for c in batch)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_page_decodes_every_badge_and_keeps_names_whole(layout):
    spec = LAYOUTS[layout]
    batch = cards(spec.per_page)
    pdf = badge_sheets_pdf(batch, layout, logo=png_logo())
    [found] = decoded_codes(pdf)
    assert sorted(found) == sorted(c.code for c in batch)
    text = page_text(pdf)
    assert LONGEST_NAME in text
    assert LONGEST_UNIT in text
    page = pdfium.PdfDocument(pdf)[0]
    assert page.get_size() == pytest.approx((spec.page_w * 72 / 25.4, spec.page_h * 72 / 25.4), abs=0.1)


def test_names_and_units_are_real_text_with_diacritics_intact():
    batch = cards(len(NAMES))
    text = page_text(badge_sheets_pdf(batch, "a4-8"))
    assert unicodedata.is_normalized("NFC", text)
    for card in batch:
        assert card.full_name in text
        assert card.unit in text
        assert card.position in text
    assert "Lớp bồi dưỡng cán bộ Đoàn chủ chốt năm 2026" in text
    assert "27/11/2026" in text


def test_decomposed_input_is_printed_composed():
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Ỷ Lan")
    text = page_text(badge_sheets_pdf([make_card(1, name=nfd)], "a6"))
    assert "Nguyễn Thị Ỷ Lan" in text


def test_qr_is_vector_not_an_image():
    pdf = badge_sheets_pdf(cards(8), "a4-8")
    page = pdfium.PdfDocument(pdf)[0]
    assert list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])) == []
    assert len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH]))) >= 8


def test_progress_is_reported_per_page_in_badges():
    calls = []
    badge_sheets_pdf(cards(20), "a4-8", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(8, 20), (16, 20), (20, 20)]


@pytest.mark.parametrize(
    "kwargs,batch",
    [
        ({"layout": "a3-16"}, cards(1)),
        ({}, []),
        ({"logo": b"GIF89a not a png"}, cards(1)),
    ],
    ids=["unknown-layout", "no-cards", "bad-logo"],
)
def test_unprintable_requests_are_refused(kwargs, batch):
    with pytest.raises(ValueError):
        badge_sheets_pdf(batch, **kwargs)


@pytest.mark.parametrize("width_mm", [30.0, 40.0, 62.0])
@pytest.mark.parametrize("text", [LONGEST_NAME, LONGEST_UNIT, "Nguyễn-Hoàng-Thị-Phương-Quỳnh-Bảo-Châu-Ngọc"])
def test_long_text_wraps_or_shrinks_inside_its_width_and_loses_nothing(text, width_mm):
    fitted = fit_text(text, width_mm, max_pt=15, min_pt=6, max_lines=2, bold=True)
    assert "".join(fitted.lines).replace(" ", "") == text.replace(" ", "")
    for line in fitted.lines:
        assert text_width_em(line, True) * fitted.size_pt * 25.4 / 72 <= width_mm + 1e-6


# --- PNG -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_badge_png_decodes_and_has_print_size_at_300_dpi(layout):
    spec = LAYOUTS[layout]
    card = make_card(0, LONGEST_NAME, LONGEST_UNIT)
    image = Image.open(io.BytesIO(badge_png(card, layout=layout)))
    assert image.size == (round(spec.badge_w / 25.4 * 300), round(spec.badge_h / 25.4 * 300))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    [found] = zxingcpp.read_barcodes(image)
    assert found.text == card.code


def test_badge_png_default_is_the_a4_8_badge_and_takes_a_logo():
    image = Image.open(io.BytesIO(badge_png(make_card(2), logo=png_logo(), dpi=150)))
    assert image.size == (round(68 / 25.4 * 150), round(98 / 25.4 * 150))
    assert image.mode == "RGB"
    assert zxingcpp.read_barcodes(image)[0].text == make_card(2).code


# --- order -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given,expected",
    [
        # unit first, diacritics and case ignored
        (
            [("Lê Văn An", "Đoàn Sở Y tế"), ("Trần Thị Bình", "đoàn sở tư pháp")],
            ["Trần Thị Bình", "Lê Văn An"],
        ),
        # within a unit, by given name (last word) as Vietnamese lists are ordered, then the full name
        (
            [("Nguyễn Văn Đức", "X"), ("Trần Thị Ánh", "X"), ("Lê Bảo An", "X"), ("Ánh Nguyễn Bình", "X")],
            ["Lê Bảo An", "Trần Thị Ánh", "Ánh Nguyễn Bình", "Nguyễn Văn Đức"],
        ),
        # same given name: the family name decides
        ([("Võ Thị Hương", "X"), ("Bùi Thị Hương", "X")], ["Bùi Thị Hương", "Võ Thị Hương"]),
    ],
    ids=["unit-first", "given-name", "family-breaks-tie"],
)
def test_sort_cards_by_unit_then_vietnamese_name(given, expected):
    batch = [make_card(i, name, unit) for i, (name, unit) in enumerate(given)]
    assert [c.full_name for c in sort_cards(batch)] == expected


ABSURD = make_card(5, name="Nguyễn " * 30, unit="Đoàn Thanh niên " * 20, venue="Hội trường " * 20)


@pytest.mark.parametrize("layout", ["a6", "cr80"])
@pytest.mark.parametrize("card", [make_card(0, LONGEST_NAME, LONGEST_UNIT), ABSURD], ids=["longest-real", "absurd"])
def test_every_letter_stays_on_a_single_badge_page_and_the_qr_still_decodes(layout, card):
    pdf = badge_sheets_pdf([card], layout)
    assert decoded_codes(pdf) == [[card.code]]
    page = pdfium.PdfDocument(pdf)[0]
    width, height = page.get_size()
    textpage = page.get_textpage()
    assert " ".join(card.unit.split()) in re.sub(r"\s+", " ", textpage.get_text_range())
    for i in range(textpage.count_chars()):
        left, bottom, right, top = textpage.get_charbox(i)
        if right > left:  # spaces and line breaks have empty boxes
            assert 0 <= left and right <= width and 0 <= bottom and top <= height
