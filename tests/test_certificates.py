"""Certificates: who qualifies, the PDF (read back with a text extractor), codes and the public check."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pytest
from starlette.testclient import TestClient

from checkin.documents import certificates
from checkin.door import scanning
from checkin.store import certificates as certificate_store
from checkin.store.db import transaction

from .conftest import bearer, local, sign_in

from .conftest import db_args


def pdf_pages(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(doc))]
    finally:
        doc.close()


def csrf_of(client, url: str) -> str:
    return client.get(url).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.fixture
def attended(client, world):
    """Hương came to all three sessions, Nam to two, Đức to one, Trang to none; it is now 11:00."""
    def scan(index, hour, minute):
        world.clock.set(local(hour, minute))
        answer = client.post("/api/v1/scans", json={"code": world.course.codes[index], "method": "camera"},
                             headers=bearer(world.course.token))
        assert answer.json()["accepted"], answer.text
        return answer.json()["scan_id"]

    for index in (0, 1, 2):
        scan(index, 7, 50)
    scans = {index: scan(index, 8, 41) for index in (0, 1)}
    scan(0, 9, 40)
    world.clock.set(local(11, 0))
    sign_in(client)
    return scans


def issue(client, world):
    url = f"/courses/{world.course.id}/reports"
    answer = client.post(f"/courses/{world.course.id}/certificates.pdf", data={"csrf": csrf_of(client, url)})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    return pdf_pages(answer.content)


def stored(world):
    conn = world.conn()
    try:
        return {c.full_name: c for c in certificate_store.list_certificates(conn, world.course.id)}
    finally:
        conn.close()


def test_by_default_a_certificate_needs_every_session(client, world, attended):
    page = client.get(f"/courses/{world.course.id}/reports")
    assert "Cần dự ít nhất 3 trên 3 chuyên đề" in page.text and "Hiện có 1 người đủ điều kiện" in page.text
    pages = issue(client, world)
    assert len(pages) == 1
    text = pages[0]
    assert "GIẤY CHỨNG NHẬN" in text and "Nguyễn Thị Hương" in text
    assert "Lớp bồi dưỡng cán bộ Đoàn" in text and "ngày 27/11/2026 tại Hội trường" in text
    assert "Số chuyên đề đã tham dự: 3/3" in text
    code = stored(world)["Nguyễn Thị Hương"].code
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", code)
    assert certificates.format_code(code) in text and f"/verify/{code}" in text


def test_with_two_of_three_two_people_get_one_page_each_and_the_public_page_confirms_them(client, world, attended):
    url = f"/courses/{world.course.id}/reports"
    saved = client.post(f"/courses/{world.course.id}/certificates/rule",
                        data={"csrf": csrf_of(client, url), "min_sessions": "2"}, follow_redirects=False)
    assert saved.status_code == 303
    pages = issue(client, world)
    assert len(pages) == 2
    assert ["Nguyễn Thị Hương" in pages[0], "Số chuyên đề đã tham dự: 3/3" in pages[0]] == [True, True]
    assert ["Trần Văn Nam" in pages[1], "Số chuyên đề đã tham dự: 2/3" in pages[1]] == [True, True]
    assert "Khai mạc; Chuyên đề 1" in pages[1]
    certs = stored(world)
    assert set(certs) == {"Nguyễn Thị Hương", "Trần Văn Nam"}
    assert all(c.revoked_at is None for c in certs.values())

    nam = certs["Trần Văn Nam"]
    with TestClient(client.app) as anyone:  # no sign-in
        page = anyone.get(f"/verify/{nam.code}")
        assert page.status_code == 200 and page.template.name == "public/certificate.html"
        assert "Giấy chứng nhận này là thật." in page.text
        assert "Trần Văn Nam" in page.text and "2/3" in page.text and "Lớp bồi dưỡng cán bộ Đoàn" in page.text
        assert page.headers["x-robots-tag"] == "noindex"
        typed = certificates.format_code(nam.code).lower().replace("0", "o").replace("1", "l")
        assert "Trần Văn Nam" in anyone.get("/verify", params={"code": typed}).text
        missing = anyone.get("/verify/ABCDE-FGHJK")
        assert missing.status_code == 404 and "Không có giấy chứng nhận nào mang mã này" in missing.text
        assert anyone.get("/verify").status_code == 200


def test_issuing_again_keeps_codes_and_withdraws_those_who_no_longer_qualify(client, world, attended):
    url = f"/courses/{world.course.id}/reports"
    client.post(f"/courses/{world.course.id}/certificates/rule", data={"csrf": csrf_of(client, url), "min_sessions": "2"})
    issue(client, world)
    before = stored(world)
    conn = world.conn()
    with transaction(conn):
        scanning.undo_scan_tx(conn, world.course.id, attended[1], world.clock(), organiser_id=1, reason="mistake")
    conn.close()
    pages = issue(client, world)
    assert len(pages) == 1 and "Nguyễn Thị Hương" in pages[0]
    after = stored(world)
    assert after["Nguyễn Thị Hương"].code == before["Nguyễn Thị Hương"].code
    assert after["Trần Văn Nam"].revoked_at is not None
    with TestClient(client.app) as anyone:
        page = anyone.get(f"/verify/{after['Trần Văn Nam'].code}")
    assert "đã bị thu hồi" in page.text


@pytest.mark.parametrize("value, status", [("0", 422), ("4", 422), ("abc", 422), ("", 303), ("3", 303)])
def test_the_rule_accepts_one_to_the_number_of_sessions_or_empty(client, world, value, status):
    sign_in(client)
    url = f"/courses/{world.course.id}/reports"
    answer = client.post(f"/courses/{world.course.id}/certificates/rule",
                         data={"csrf": csrf_of(client, url), "min_sessions": value}, follow_redirects=False)
    assert answer.status_code == status


def test_issuing_needs_the_form_token_and_an_organiser_of_the_course(client, world):
    sign_in(client)
    assert client.post(f"/courses/{world.course.id}/certificates.pdf", data={}).status_code == 403
    sign_in(client, "outsider")
    assert client.post(f"/courses/{world.course.id}/certificates.pdf", data={"csrf": "x"}).status_code in (403,)


@pytest.mark.parametrize("typed, expected", [
    ("ABCDE-FGHJK", "ABCDEFGHJK"), ("abcde fghjk", "ABCDEFGHJK"), ("O1234-5678L", "0123456781"),
    ("ABCDE", None), ("ABCDE-FGHJU", None), ("", None),
])
def test_typed_codes_are_normalised(typed, expected):
    assert certificates.normalise_code(typed) == expected


def test_cli_issues_and_writes_the_certificates(world, attended, tmp_path, capsys):
    from checkin import cli

    out = tmp_path / "certificates.pdf"
    assert cli.main(["certificates", *db_args(world.settings), "--course", str(world.course.id),
                     "--out", str(out)]) == 0
    pages = pdf_pages(out.read_bytes())
    assert len(pages) == 1 and "Nguyễn Thị Hương" in pages[0] and "GIẤY CHỨNG NHẬN" in pages[0]
    assert "1 certificate(s) written" in capsys.readouterr().err
    assert cli.main(["certificates", *db_args(world.settings), "--course", str(world.course.id),
                     "--out", str(out), "--lang", "en"]) == 0
    assert "CERTIFICATE OF ATTENDANCE" in pdf_pages(out.read_bytes())[0]


def test_the_printed_qr_opens_the_verification_page(client, world, attended):
    import zxingcpp

    url = f"/courses/{world.course.id}/reports"
    answer = client.post(f"/courses/{world.course.id}/certificates.pdf", data={"csrf": csrf_of(client, url)})
    doc = pdfium.PdfDocument(answer.content)
    image = doc[0].render(scale=3).to_pil()
    doc.close()
    found = [r.text for r in zxingcpp.read_barcodes(image)]
    code = stored(world)["Nguyễn Thị Hương"].code
    assert found == [f"{world.settings.public_url}/verify/{code}"]


def test_certificates_in_english_when_the_organiser_chooses_it(client, world, attended):
    url = f"/courses/{world.course.id}/reports"
    answer = client.post(f"/courses/{world.course.id}/certificates.pdf",
                         data={"csrf": csrf_of(client, url), "lang": "en"})
    [text] = pdf_pages(answer.content)
    assert "CERTIFICATE OF ATTENDANCE" in text and "Nguyễn Thị Hương" in text
    assert "on 27/11/2026 at Hội trường" in text and "Sessions attended: 3/3" in text
    assert "Verification code" in text and "FOR THE ORGANISING COMMITTEE" in text
    assert "GIẤY CHỨNG NHẬN" not in text


def test_the_page_language_does_not_decide_the_certificates_language(client, world, attended):
    client.cookies.set("lang", "en")  # the organiser works in English
    url = f"/courses/{world.course.id}/reports"
    assert 'name="lang"' in client.get(url).text
    answer = client.post(f"/courses/{world.course.id}/certificates.pdf", data={"csrf": csrf_of(client, url)})
    assert "GIẤY CHỨNG NHẬN" in pdf_pages(answer.content)[0]


def test_an_unknown_document_language_is_refused_before_anything_is_issued(client, world, attended):
    url = f"/courses/{world.course.id}/reports"
    answer = client.post(f"/courses/{world.course.id}/certificates.pdf",
                         data={"csrf": csrf_of(client, url), "lang": "fr"})
    assert answer.status_code == 422 and "bad_language" in answer.text
    assert stored(world) == {}
