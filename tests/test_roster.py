"""Roster parsing against the messy files organisers really send: built here, byte for byte."""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import unicodedata
import zipfile

import openpyxl
import pytest

from checkin.i18n import reset_language, set_language
from checkin.roster import RosterError, RosterParse, normalise_phone, parse_roster
from checkin.text import clean


@pytest.fixture(autouse=True)
def english():
    """The parser's messages are in the current language (Vietnamese by default); these tests read the English."""
    token = set_language("en")
    yield
    reset_language(token)


@contextlib.contextmanager
def in_language(lang: str):
    """The parser speaks `lang` inside."""
    token = set_language(lang)
    try:
        yield
    finally:
        reset_language(token)


HEADER_VI = ["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Email", "Mã đoàn viên"]
PEOPLE = [
    [1, "Nguyễn Thị Hương", "Sở Tư pháp", "Bí thư", "0912345678", "huong@example.vn", "DV001"],
    [2, "Trần Văn Đức", "Sở Y tế", "Phó Bí thư", "0987654321", "", "DV002"],
    [3, "Lê Ngọc Ánh", "Văn phòng UBND thành phố", "Ủy viên", "02438251234", "anh.le@example.vn", ""],
]


def xlsx_bytes(rows, *, merges=(), title="Danh sách", extra_sheets=()) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    for name, other_rows in extra_sheets:
        other = workbook.create_sheet(name)
        for row in other_rows:
            other.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_text(rows, delimiter=",") -> str:
    def quote(value):
        text = "" if value is None else str(value)
        return f'"{text}"' if delimiter in text or '"' in text else text

    return "\r\n".join(delimiter.join(quote(v) for v in row) for row in rows) + "\r\n"


def to_cp1258(text: str) -> bytes:
    """Vietnamese Windows text: vowels with hats and horns precomposed, tone marks as combining characters."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for ch in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out.append(base + "".join(c for c in decomposed if c in tones))
    return "".join(out).encode("cp1258")


def summary(parsed: RosterParse):
    return [(p.row_number, p.field, p.code) for p in parsed.problems]


def warning_codes(parsed: RosterParse):
    return [(w.row_number, w.code) for w in parsed.warnings]


# ---------------------------------------------------------------- a realistic messy workbook


def test_messy_workbook_gives_clean_rows_problems_and_notes_with_excel_row_numbers():
    nfd_name = unicodedata.normalize("NFD", "Phạm Thị Quỳnh")
    rows = [
        ["DANH SÁCH HỌC VIÊN LỚP BỒI DƯỠNG CÁN BỘ ĐOÀN CHỦ CHỐT NĂM 2022"],  # row 1, merged A1:G1
        ["(Kèm theo Công văn số 123-CV/ĐTN)"],  # row 2
        [],  # row 3
        HEADER_VI,  # row 4
        [1, "  Nguyễn  Thị Hương ", "Sở Tư pháp", "Bí thư", 912345678, "Huong@Example.VN ", "DV001"],  # 5
        [2, nfd_name, "Sở Y tế", "Phó Bí thư", 987654321.0, "", "DV002"],  # 6
        [3, "Hoàng Minh Tuấn", None, "Ủy viên", "+84 903 111 222", "", ""],  # 7: unit merged from row 6
        [],  # 8
        [4, "Nguyễn Thị Hương", "Sở Tư pháp", "Bí thư", "0912345678", "huong@example.vn", "DV001"],  # 9: repeat
        [5, "Nguyễn Thị Hương", "Sở Tư pháp", "Ủy viên", "0911000111", "", "DV009"],  # 10: same person, other details
        [6, None, "Sở Xây dựng", "Bí thư", "0904000000", "", ""],  # 11: no name
        [7, "Đỗ Văn Long", "", "Bí thư", "0904000001", "", ""],  # 12: no unit
        [8, "Vũ Thị Mai", "Sở Nội vụ", "Bí thư", "12345", "mai@", ""],  # 13: bad phone and email
        [9],  # 14: only the STT number, like a pre-numbered template
        [10, "X" * 201, "Sở Nội vụ", "", "", "", ""],  # 15: too long
        [11, "Bùi Văn Nam", "Sở Công Thương", "-", 2438251234, "", ""],  # 16: landline lost its 0, "-" = none
    ]
    parsed = parse_roster(xlsx_bytes(rows, merges=["A1:G1", "C6:C7"]), "danh-sach.xlsx")

    assert parsed.header_row == 4
    assert parsed.sheet == "Danh sách"
    assert parsed.columns == {
        "full_name": "Họ và tên", "unit": "Đơn vị", "position": "Chức vụ", "phone": "Số điện thoại",
        "email": "Email", "member_code": "Mã đoàn viên",
    }
    assert [(r.row_number, r.full_name, r.unit, r.position, r.phone, r.email, r.member_code) for r in parsed.rows] == [
        (5, "Nguyễn Thị Hương", "Sở Tư pháp", "Bí thư", "0912345678", "huong@example.vn", "DV001"),
        (6, "Phạm Thị Quỳnh", "Sở Y tế", "Phó Bí thư", "0987654321", "", "DV002"),
        (7, "Hoàng Minh Tuấn", "Sở Y tế", "Ủy viên", "0903111222", "", ""),
        (16, "Bùi Văn Nam", "Sở Công Thương", "", "02438251234", "", ""),
    ]
    assert parsed.rows[1].full_name == unicodedata.normalize("NFC", "Phạm Thị Quỳnh")
    assert summary(parsed) == [
        (10, "", "duplicate_in_file"),
        (11, "full_name", "missing_name"),
        (12, "unit", "missing_unit"),
        (13, "phone", "invalid_phone"),
        (13, "email", "invalid_email"),
        (15, "full_name", "too_long"),
    ]
    assert warning_codes(parsed) == [(5, "phone_fixed"), (6, "phone_fixed"), (9, "duplicate_row"), (16, "phone_fixed")]


def test_problem_messages_name_the_row_and_the_value():
    rows = [["Họ và tên", "Đơn vị", "SĐT"], ["Vũ Thị Mai", "Sở Nội vụ", "12345"], ["Lê Văn Tám", "Sở Nội vụ", "9.12E+08"]]
    parsed = parse_roster(xlsx_bytes(rows), "r.xlsx")
    first, second = parsed.problems
    assert first.message.startswith("Row 2 (Vũ Thị Mai): ") and '"12345"' in first.message
    assert second.code == "invalid_phone" and "scientific notation" in second.message and "Row 3" in second.message


def test_problem_messages_are_in_vietnamese_when_the_language_is_vietnamese():
    rows = [
        ["Họ và tên", "Đơn vị", "Số điện thoại"],
        ["Đỗ Văn Long", "", "0904000001"],
        ["Vũ Thị Mai", "Sở Nội vụ", "12345"],
        ["", "Sở Xây dựng", "0904000002"],
        ["Bùi Văn Nam", "Sở Công Thương", 912000111],
    ]
    with in_language("vi"):
        parsed = parse_roster(xlsx_bytes(rows), "r.xlsx")
        with pytest.raises(RosterError) as caught:
            parse_roster(b"a,b,c\n1,2,3\n", "r.csv")
    assert summary(parsed) == [(2, "unit", "missing_unit"), (3, "phone", "invalid_phone"), (4, "full_name", "missing_name")]
    assert [p.message for p in parsed.problems] == [
        "Dòng 2 (Đỗ Văn Long): thiếu đơn vị; mỗi học viên cần có đơn vị để lập báo cáo điểm danh.",
        'Dòng 3 (Vũ Thị Mai): số điện thoại "12345" không hợp lệ; cần số di động 10 chữ số bắt đầu bằng 0 '
        "(ví dụ 0912345678) hoặc số cố định 11 chữ số bắt đầu bằng 02.",
        "Dòng 4 (đơn vị Sở Xây dựng): thiếu họ và tên; hãy ghi đầy đủ họ và tên của học viên.",
    ]
    assert [w.message for w in parsed.warnings] == [
        'Dòng 5 (Bùi Văn Nam): số điện thoại "912000111" được đọc thành 0912000111: '
        "đã thêm lại số 0 ở đầu mà Excel làm mất."]
    assert caught.value.code == "no_header" and caught.value.message.startswith(
        "Không tìm thấy dòng tiêu đề trong 15 dòng đầu.")


def test_numbers_in_messages_are_written_as_the_language_writes_them():
    rows = [["Họ và tên", "Đơn vị"]] + [[f"Người {i}", "Sở Y tế"] for i in range(3)]
    for lang, says in (("en", "more than 1,000 participant rows"), ("vi", "hơn 1.000 dòng học viên")):
        with in_language(lang), pytest.raises(RosterError) as caught:
            parse_roster(csv_text(rows * 400).encode(), "r.csv", max_rows=1_000)
        assert caught.value.code == "too_large" and says in caught.value.message


def test_two_row_header_with_merged_cells_is_read_as_one():
    rows = [
        ["DANH SÁCH ĐẠI BIỂU"],
        ["STT", "Họ và tên", "Đơn vị", "Liên hệ", None],
        [None, None, None, "SĐT", "Email"],
        [1, "Nguyễn Thị Hương", "Sở Tư pháp", "0912345678", "huong@example.vn"],
    ]
    merges = ["A1:E1", "A2:A3", "B2:B3", "C2:C3", "D2:E2"]
    parsed = parse_roster(xlsx_bytes(rows, merges=merges), "r.xlsx")
    assert parsed.header_row == 2
    assert parsed.columns == {"full_name": "Họ và tên", "unit": "Đơn vị", "phone": "SĐT", "email": "Email"}
    assert [(r.row_number, r.phone, r.email) for r in parsed.rows] == [(4, "0912345678", "huong@example.vn")]


def test_roster_on_a_second_sheet_is_found_when_the_first_has_no_header():
    cover = [["CÔNG VĂN TRIỆU TẬP"], ["Kính gửi: các cơ sở Đoàn trực thuộc"]]
    workbook = xlsx_bytes(cover, title="Công văn", extra_sheets=[("DS học viên", [HEADER_VI, *PEOPLE])])
    parsed = parse_roster(workbook, "r.xlsx")
    assert parsed.sheet == "DS học viên"
    assert [r.full_name for r in parsed.rows] == ["Nguyễn Thị Hương", "Trần Văn Đức", "Lê Ngọc Ánh"]


def test_formula_cell_gives_its_value_and_text_looking_like_a_formula_is_flagged():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Họ và tên", "Đơn vị", "Chức vụ"])
    sheet.append(["Nguyễn Văn An", "Sở Y tế", "Bí thư"])
    sheet.append(["Trần Văn Bình", "Sở Y tế", "Bí thư"])
    sheet["C3"] = "=HYPERLINK(\"http://evil\",\"x\")"
    sheet["C3"].data_type = "s"  # stored as text, as when pasted from a web form
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_roster(buffer.getvalue(), "r.xlsx")
    assert [r.row_number for r in parsed.rows] == [2]
    assert summary(parsed) == [(3, "position", "formula_like")]


def test_total_and_signature_rows_under_the_list_are_ignored_with_a_note():
    rows = [
        ["STT", "Họ và tên", "Đơn vị", "Chức vụ"],
        [1, "Tống Văn Công", "Sở Y tế", "Bí thư"],  # "Tống" is a surname, not "Tổng"
        [None, "Tổng cộng: 01 đồng chí", None, None],
        [],
        [None, None, None, "T/M BAN THƯỜNG VỤ"],
        [None, None, None, "BÍ THƯ"],
    ]
    parsed = parse_roster(xlsx_bytes(rows), "r.xlsx")
    assert [r.full_name for r in parsed.rows] == ["Tống Văn Công"]
    assert parsed.problems == ()
    assert warning_codes(parsed) == [(3, "row_ignored"), (5, "row_ignored"), (6, "row_ignored")]


def test_a_workbook_that_records_the_wrong_sheet_size_is_still_read_in_full():
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADER_VI, *PEOPLE])))
    files = {name: source.read(name) for name in source.namelist()}
    sheet, count = re.subn(rb'<dimension ref="A1:G4"\s*/>', b'<dimension ref="A1"/>', files["xl/worksheets/sheet1.xml"])
    assert count == 1
    files["xl/worksheets/sheet1.xml"] = sheet
    parsed = parse_roster(zip_with(files), "r.xlsx")
    assert [r.row_number for r in parsed.rows] == [2, 3, 4]


# ---------------------------------------------------------------- CSV as Excel and other tools save it

CSV_ROWS = [["DANH SÁCH HỌC VIÊN"], [], HEADER_VI, *PEOPLE, ["", "", "", "", "", "", ""]]
EXPECTED = [
    (4, "Nguyễn Thị Hương", "Sở Tư pháp", "0912345678"),
    (5, "Trần Văn Đức", "Sở Y tế", "0987654321"),
    (6, "Lê Ngọc Ánh", "Văn phòng UBND thành phố", "02438251234"),
]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_text(CSV_ROWS).encode("utf-8"), id="utf-8"),
        pytest.param(csv_text(CSV_ROWS).encode("utf-8-sig"), id="utf-8 with BOM"),
        pytest.param(csv_text(CSV_ROWS, ";").encode("utf-8-sig"), id="semicolons"),
        pytest.param(csv_text(CSV_ROWS, "\t").encode("utf-16"), id="Excel unicode text: utf-16 with tabs"),
        pytest.param(codecs.BOM_UTF16_BE + csv_text(CSV_ROWS, "\t").encode("utf-16-be"), id="utf-16 big-endian"),
        pytest.param(to_cp1258(csv_text(CSV_ROWS)), id="windows-1258"),
        pytest.param(("sep=;\r\n" + csv_text(CSV_ROWS[1:], ";")).encode("utf-8"), id="sep line"),
        pytest.param(unicodedata.normalize("NFD", csv_text(CSV_ROWS)).encode("utf-8"), id="decomposed unicode"),
    ],
)
def test_csv_in_every_encoding_and_delimiter_gives_the_same_rows(data):
    parsed = parse_roster(data, "roster.csv")
    got = [(r.row_number, r.full_name, r.unit, r.phone) for r in parsed.rows]
    shift = 1 if data.startswith(b"sep=") else 0  # Excel hides the sep line, and so do our row numbers
    assert got == [(n - shift, *rest) for n, *rest in EXPECTED]
    assert parsed.problems == () and parsed.columns["full_name"] == "Họ và tên"
    assert all(unicodedata.is_normalized("NFC", r.full_name) for r in parsed.rows)


def test_csv_quoted_values_with_the_delimiter_and_numbers_that_lost_their_zero():
    text = 'Họ và tên,Đơn vị,Chức vụ,SĐT\n"Nguyễn Văn An","Đoàn Sở Y tế, Hà Nội",Bí thư,912345678\n'
    parsed = parse_roster(text.encode(), "r.csv")
    assert [(r.unit, r.phone) for r in parsed.rows] == [("Đoàn Sở Y tế, Hà Nội", "0912345678")]
    assert warning_codes(parsed) == [(2, "phone_fixed")]


@pytest.mark.parametrize(
    ("value", "field"),
    [("=1+1", "full_name"), ("+cmd|' /C calc'!A0", "full_name"), ("-2+3", "unit"), ("@SUM(A1)", "position"),
     ("#REF!", "unit")],
)
def test_values_a_spreadsheet_would_run_are_formula_like(value, field):
    row = {"full_name": "Nguyễn Văn An", "unit": "Sở Y tế", "position": "Bí thư"}
    row[field] = value
    text = csv_text([["Họ và tên", "Đơn vị", "Chức vụ"], [row["full_name"], row["unit"], row["position"]]])
    parsed = parse_roster(text.encode(), "r.csv")
    assert parsed.rows == ()
    assert summary(parsed) == [(2, field, "formula_like")]


# ---------------------------------------------------------------- column names


@pytest.mark.parametrize(
    "header",
    [
        ["Full name", "Organisation", "Mobile"],
        ["ho va ten", "don vi", "sdt"],
        ["HỌ TÊN", "CƠ SỞ ĐOÀN", "ĐIỆN THOẠI"],
        ["Name", "Unit", "Phone"],
        ["Họ và tên (*)", "Đơn vị công tác", "Số điện thoại (di động)"],
        ["Họ và tên học viên", "Tên đơn vị", "Điện thoại liên lạc"],
        ["Họ và tên", "Đơn vị/Cơ sở Đoàn", "SỐ ĐT"],
        ["Họ và tên\n(ghi có dấu)", "Đơn vị", "SĐT:"],
    ],
)
@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)], ids=["n-u-p", "p-n-u", "u-p-n"])
def test_column_names_in_vietnamese_or_english_any_case_and_order(header, order):
    values = ["Nguyễn Thị Hương", "Sở Tư pháp", "0912345678"]
    rows = [["No.", *(header[i] for i in order)], [1, *(values[i] for i in order)]]
    parsed = parse_roster(xlsx_bytes(rows), "r.xlsx")
    assert [(r.full_name, r.unit, r.phone) for r in parsed.rows] == [tuple(values)]
    assert list(parsed.columns.values()) == [clean(h) for h in header]


@pytest.mark.parametrize(
    ("header", "joined"),
    [(["Họ", "Tên", "Đơn vị"], "Họ + Tên"), (["Họ và tên đệm", "Tên", "Đơn vị"], "Họ và tên đệm + Tên")],
)
def test_split_name_columns_are_joined(header, joined):
    parsed = parse_roster(csv_text([header, ["Nguyễn Thị", "Hương", "Sở Tư pháp"]]).encode(), "r.csv")
    assert [r.full_name for r in parsed.rows] == ["Nguyễn Thị Hương"]
    assert parsed.columns["full_name"] == joined


def test_unknown_and_numbering_columns_are_ignored():
    header = ["STT", "Họ và tên", "Ngày sinh", "Đơn vị", "Ghi chú"]
    parsed = parse_roster(csv_text([header, [1, "Lê Ngọc Ánh", "1995-03-02", "Sở Y tế", "ăn chay"]]).encode(), "r.csv")
    assert parsed.columns == {"full_name": "Họ và tên", "unit": "Đơn vị"}
    assert parsed.rows[0].position == "" and parsed.rows[0].member_code == ""


def test_placeholders_typed_for_nothing_leave_optional_fields_empty():
    rows = [["Họ và tên", "Đơn vị", "Chức vụ", "SĐT", "Email"], ["Lê Văn Tám", "Sở Y tế", "-", "Không", "x"]]
    parsed = parse_roster(csv_text(rows).encode(), "r.csv")
    assert [(r.position, r.phone, r.email) for r in parsed.rows] == [("", "", "")]
    assert parsed.problems == ()


# ---------------------------------------------------------------- duplicates


def test_people_whose_names_differ_only_in_accents_are_both_kept_with_a_note():
    rows = [["Họ và tên", "Đơn vị"], ["Nguyễn Văn Hùng", "Sở Y tế"], ["Nguyễn Văn Hưng", "Sở Y tế"]]
    parsed = parse_roster(csv_text(rows).encode(), "r.csv")
    assert [r.full_name for r in parsed.rows] == ["Nguyễn Văn Hùng", "Nguyễn Văn Hưng"]
    assert warning_codes(parsed) == [(3, "similar_name")]


def test_two_people_with_one_phone_or_member_code_are_a_problem_because_import_matches_on_them():
    rows = [
        ["Họ và tên", "Đơn vị", "SĐT", "Mã đoàn viên"],
        ["Nguyễn Văn An", "Sở Y tế", "0912345678", "A1"],
        ["Trần Văn Bình", "Sở Y tế", "+84912345678", "B1"],
        ["Lê Văn Cường", "Sở Y tế", "", "a1"],
    ]
    parsed = parse_roster(csv_text(rows).encode(), "r.csv")
    assert [r.row_number for r in parsed.rows] == [2]
    assert summary(parsed) == [(3, "phone", "duplicate_phone"), (4, "member_code", "duplicate_member_code")]


# ---------------------------------------------------------------- phone numbers


@pytest.mark.parametrize(
    ("raw", "phone", "note"),
    [
        ("0912345678", "0912345678", False),
        ("0912 345 678", "0912345678", False),
        ("'0912345678", "0912345678", False),
        ("0912.345.678", "0912345678", False),
        ("912345678", "0912345678", True),
        ("+84 912 345 678", "0912345678", False),
        ("+84 (0) 912 345 678", "0912345678", False),
        ("84912345678", "0912345678", False),
        ("0084912345678", "0912345678", False),
        ("024 3825 1234", "02438251234", False),
        ("2438251234", "02438251234", True),
        ("01662345678", "0362345678", True),
        ("0912345678 / 0987654321", "0912345678", True),
        ("+33 6 12 34 56 78", "+33612345678", False),
    ],
)
def test_phone_numbers_are_normalised(raw, phone, note):
    result = normalise_phone(raw)
    assert (result.value, bool(result.fixed), result.error) == (phone, note, "")


@pytest.mark.parametrize("raw", ["12345", "091234567890", "0112345678", "gọi qua Zalo", "9.12E+08", "+12"])
def test_phone_numbers_that_cannot_be_right_are_invalid(raw):
    assert normalise_phone(raw).error


# ---------------------------------------------------------------- files that cannot be read


def zip_with(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def xlsm_bytes() -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADER_VI, *PEOPLE])))
    files = {name: source.read(name) for name in source.namelist()}
    files["[Content_Types].xml"] = files["[Content_Types].xml"].replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
    files["xl/vbaProject.bin"] = b"\x00" * 64
    return zip_with(files)


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
WORD_TYPES = b'<Types><Override ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'


@pytest.mark.parametrize(
    ("data", "filename", "code", "says"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "photo.xlsx", "not_a_spreadsheet", ".xlsx", id="png"),
        pytest.param(bytes(range(256)) * 8, "data.csv", "not_a_spreadsheet", "CSV", id="binary noise"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "roster.pdf", "not_a_spreadsheet", ".xlsx", id="pdf"),
        pytest.param(OLE2, "roster.xls", "unsupported_format", ".xlsx", id="old xls"),
        pytest.param(OLE2 + "EncryptionInfo".encode("utf-16-le"), "roster.xlsx", "encrypted_or_macro", "password",
                     id="password-protected xlsx"),
        pytest.param(zip_with({"readme.txt": b"hello"}), "roster.xlsx", "not_a_spreadsheet", ".xlsx", id="plain zip"),
        pytest.param(zip_with({"[Content_Types].xml": WORD_TYPES}), "roster.xlsx", "not_a_spreadsheet", "Word",
                     id="word document"),
        pytest.param(zip_with({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"}), "r.ods",
                     "unsupported_format", ".ods", id="ods"),
        pytest.param(b"PK\x03\x04 truncated", "roster.xlsx", "not_a_spreadsheet", "damaged", id="damaged zip"),
        pytest.param(zip_with({"[Content_Types].xml": b"spreadsheetml.sheet.main+xml"}), "roster.xlsx",
                     "not_a_spreadsheet", "cannot be read", id="xlsx without a workbook inside"),
        pytest.param(zip_with({"[Content_Types].xml": b"sheet.binary.macroEnabled.main", "xl/workbook.bin": b""}),
                     "roster.xlsb", "unsupported_format", ".xlsb", id="xlsb"),
        pytest.param(xlsm_bytes(), "roster.xlsx", "encrypted_or_macro", "macros", id="xlsm content"),
        pytest.param(xlsx_bytes([HEADER_VI, *PEOPLE]), "roster.xlsm", "encrypted_or_macro", "macros", id="xlsm name"),
        pytest.param(b"<html><body><table><tr><td>Ho ten</td></tr></table></body></html>", "export.xls",
                     "unsupported_format", "HTML", id="html named xls"),
        pytest.param(b"", "r.csv", "empty", "empty", id="no bytes"),
        pytest.param(codecs.BOM_UTF8 + b"\r\n\r\n", "r.csv", "empty", "empty", id="only a BOM"),
        pytest.param(xlsx_bytes([]), "r.xlsx", "empty", "no values", id="empty workbook"),
        pytest.param(b"a,b,c\n1,2,3\n", "r.csv", "no_header", "Họ và tên", id="no header"),
        pytest.param(csv_text([["Họ và tên", "Đơn vị"]]).encode(), "r.csv", "empty", "row 1", id="header only"),
        pytest.param(csv_text([["Họ và tên", "Đơn vị", *[f"c{i}" for i in range(250)]]]).encode(), "r.csv",
                     "too_many_columns", "252 columns", id="wide csv"),
        pytest.param(xlsx_bytes([["DANH SÁCH"], [f"c{i}" for i in range(300)]]), "r.xlsx", "too_many_columns",
                     "Row 2", id="wide xlsx"),
    ],
)
def test_files_that_cannot_be_used_say_why(data, filename, code, says):
    with pytest.raises(RosterError) as caught:
        parse_roster(data, filename)
    assert caught.value.code == code
    assert says in caught.value.message


def test_file_over_the_size_limit_is_too_large():
    with pytest.raises(RosterError) as caught:
        parse_roster(b"x" * 2000, "r.csv", max_bytes=1000)
    assert caught.value.code == "too_large"


def test_more_rows_than_the_limit_is_too_large():
    rows = [["Họ và tên", "Đơn vị"]] + [[f"Người {i}", "Sở Y tế"] for i in range(11)]
    assert len(parse_roster(csv_text(rows).encode(), "r.csv", max_rows=11).rows) == 11
    with pytest.raises(RosterError) as caught:
        parse_roster(csv_text(rows + [["Người thừa", "Sở Y tế"]]).encode(), "r.csv", max_rows=11)
    assert caught.value.code == "too_large"


def test_zip_that_unpacks_to_far_more_than_a_roster_is_too_large():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"spreadsheetml.sheet.main")
        archive.writestr("xl/sharedStrings.xml", b"\x20" * 6_000_000)
    with pytest.raises(RosterError) as caught:
        parse_roster(buffer.getvalue(), "bomb.xlsx", max_bytes=100_000)
    assert caught.value.code == "too_large"
