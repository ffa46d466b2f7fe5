"""Roster zip bombs: refused from what they unpack to, measured as it streams, with a message naming the limit.
The files are built here (tests/bombs.py): a few kB on disk, tens or hundreds of MB unpacked."""

from __future__ import annotations

import contextlib

import pytest

from checkin.i18n import reset_language, set_language
from checkin.roster import RosterError, parse_roster

from . import bombs
from .conftest import rows
from .test_import_preview import upload


@contextlib.contextmanager
def in_language(lang: str):
    token = set_language(lang)
    try:
        yield
    finally:
        reset_language(token)


def refusal(data: bytes, **kwargs) -> RosterError:
    with in_language("en"), pytest.raises(RosterError) as caught:
        parse_roster(data, "bomb.xlsx", **kwargs)
    return caught.value


CELL = b'<c t="s"><v>0</v></c>'


@pytest.fixture(scope="module")
def report_bomb() -> bytes:
    """The file of the report: 240 MB of texts in under 1 MB."""
    return bombs.shared_strings_bomb(240_000_000)


@pytest.mark.parametrize("prefix", ["", "x:"])
@pytest.mark.parametrize("texts, sheet, says", [
    pytest.param((b"<si><t>a</t></si>", 200_001), (b"", 0), "more than 200,000 different texts", id="texts counted"),
    pytest.param((b"", 0), (b"<row/>", 101_000), "more than 101,000 rows", id="rows counted"),
    pytest.param((b"", 0), (b"<row>" + CELL * 60 + b"</row>", 10_000), "more than 600,000 cells", id="cells counted"),
])
def test_a_workbook_with_more_texts_rows_or_cells_than_a_roster_is_refused_as_it_is_read(texts, sheet, says, prefix):
    block, times = sheet
    data = bombs.workbook(strings=texts, sheets=[(bombs.prefixed(block, prefix), times)], prefix=prefix)
    error = refusal(data)
    assert error.code == "too_large" and says in error.message and "20,000 participants" in error.message


def test_the_reports_table_of_texts_that_unpacks_to_240_mb_is_refused_naming_the_limit(report_bomb):
    assert len(report_bomb) < 1_000_000
    error = refusal(report_bomb)
    assert error.code == "too_large" and "texts of this workbook unpack to more than 32 MB" in error.message


def test_a_sheet_without_dimension_that_unpacks_to_70_mb_is_refused_naming_the_part():
    error = refusal(bombs.sheet_bomb(70_000_000))
    assert error.code == "too_large"
    assert 'part "xl/worksheets/sheet1.xml" of this workbook unpacks to more than 64 MB' in error.message


def test_parts_each_under_the_limit_that_unpack_to_too_much_together_are_refused():
    # With 1 MB uploads a workbook may unpack to 50 MB in all; three sheets of 20 MB each pass the part limit.
    data = bombs.workbook(sheets=[(b"<row/>", 20_000_000 // 6)] * 3)
    error = refusal(data, max_bytes=1_000_000)
    assert error.code == "too_large" and "This workbook unpacks to more than 50 MB" in error.message


def test_the_limits_follow_the_roster_size():
    data = bombs.workbook(sheets=[(bombs.PERSON_ROW, 1_600)])
    error = refusal(data, max_rows=100)
    assert error.code == "too_large" and "more than 1,500 rows" in error.message and "100 participants" in error.message


def test_a_roster_within_the_limits_is_read():
    people = b"".join(
        f'<row><c t="inlineStr"><is><t>Người {i}</t></is></c><c t="inlineStr"><is><t>Sở Y tế</t></is></c></row>'
        .encode() for i in range(99))
    parsed = parse_roster(bombs.workbook(strings=(b"<si><t>a</t></si>", 990), sheets=[(people, 1)]), "r.xlsx",
                          max_rows=100)
    assert len(parsed.rows) == 100


def test_the_refusal_is_in_vietnamese_for_a_vietnamese_page():
    with in_language("vi"), pytest.raises(RosterError) as caught:
        parse_roster(bombs.workbook(sheets=[(b"<row/>", 101_001)]), "bomb.xlsx")
    assert caught.value.code == "too_large"
    assert "hơn 101.000 dòng" in caught.value.message and "tối đa 20.000 học viên" in caught.value.message


def test_uploading_a_bomb_shows_the_limit_on_the_form_and_keeps_nothing(signed_in, world, report_bomb):
    answer = upload(signed_in, world, report_bomb, name="danh-sach.xlsx")
    assert answer.status_code == 422 and 'role="alert"' in answer.text
    assert "The file is too large" in answer.text and "more than 32 MB" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]
