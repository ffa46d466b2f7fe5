"""Organiser badge pages over HTTP: who may see them, PDF sheets whose QRs decode, the job with
progress, the preview, the logo and the mail-merge links."""

from __future__ import annotations

import io
import time

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from .conftest import sign_in


def csrf_of(client, course_id) -> str:
    page = client.get(f"/courses/{course_id}/badges")
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def decoded(pdf: bytes) -> list[str]:
    found = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=150 / 72, grayscale=True).to_pil()
        found += [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    return sorted(found)


def png(color=(200, 30, 40), fmt="PNG", size=(120, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def audit(world, subject):
    conn = world.conn()
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT action, detail FROM audit_log WHERE subject = ? ORDER BY id", (subject,))]
    finally:
        conn.close()


@pytest.fixture
def organiser(client):
    sign_in(client)
    return client


def test_badge_pages_need_a_signed_in_organiser_of_the_course(client, world):
    cid = world.course.id
    for path in ("/badges", "/badges.pdf", "/badges/preview.png", "/badges/links.csv"):
        answer = client.get(f"/courses/{cid}{path}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.post(f"/courses/{cid}/badges/jobs", data={"layout": "a4-8"}).status_code == 401
    sign_in(client, "outsider")
    for path in ("/badges", "/badges.pdf", "/badges/links.csv"):
        assert client.get(f"/courses/{cid}{path}").status_code == 403
    sign_in(client)
    assert client.get(f"/courses/{world.other.id}/badges.pdf").status_code == 403


def test_badge_page_offers_layouts_units_and_people(organiser, world):
    page = organiser.get(f"/courses/{world.course.id}/badges")
    assert page.status_code == 200 and page.template.name == "badges/print.html"
    for shown in ("a4-8", "a4-4", "a6", "cr80", "Đoàn Thanh niên Sở Y tế", "Phạm Thu Trang",
                  f'/courses/{world.course.id}/badges/preview.png'):
        assert shown in page.text
    assert "Lớp tập huấn khác" not in page.text


def test_whole_course_pdf_decodes_to_every_active_code_and_is_audited(organiser, world):
    answer = organiser.get(f"/courses/{world.course.id}/badges.pdf?layout=a4-8")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert decoded(answer.content) == sorted(world.course.codes)
    assert audit(world, "badges.pdf") == [("export", "a4-8, whole course, 4 badges")]


@pytest.mark.parametrize("query,expected", [
    ("scope=unit&unit=Đoàn Thanh niên Sở Tài chính", [0, 2]),
    ("unit=doan thanh nien so tai chinh&layout=a6", [0, 2]),  # typed without diacritics
    ("scope=people&person={e1}&person={e3}&layout=cr80", [1, 3]),
])
def test_pdf_for_one_unit_or_chosen_people(organiser, world, query, expected):
    e = world.course.enrolments
    answer = organiser.get(f"/courses/{world.course.id}/badges.pdf?" + query.format(e1=e[1], e3=e[3]))
    assert answer.status_code == 200
    assert decoded(answer.content) == sorted(world.course.codes[i] for i in expected)


@pytest.mark.parametrize("query,status,code", [
    ("layout=a3-16", 400, "unknown_layout"),
    ("scope=unit&unit=", 400, "unit_required"),
    ("scope=people", 400, "nobody_selected"),
    ("scope=people&person=abc", 400, "bad_selection"),
    ("scope=unit&unit=Nowhere", 422, "no_badges"),
])
def test_unprintable_choices_are_refused_with_a_code(organiser, world, query, status, code):
    answer = organiser.get(f"/courses/{world.course.id}/badges.pdf?{query}")
    assert answer.status_code == status and code in answer.text


def test_another_courses_people_cannot_be_printed_here(organiser, world):
    answer = organiser.get(f"/courses/{world.course.id}/badges.pdf?scope=people&person={world.other.enrolments[0]}")
    assert answer.status_code == 422


def test_pdf_job_reports_progress_then_serves_the_pdf(organiser, world):
    cid = world.course.id
    started = organiser.post(f"/courses/{cid}/badges/jobs",
                             data={"csrf": csrf_of(organiser, cid), "layout": "a4-4", "scope": "course"})
    assert started.status_code == 202
    job = started.json()
    assert job["total"] == 4 and job["state"] in ("running", "done")
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = organiser.get(job["status_url"]).json()
    assert job["state"] == "done" and job["done"] == 4
    pdf = organiser.get(job["download_url"])
    assert pdf.headers["content-type"] == "application/pdf"
    assert decoded(pdf.content) == sorted(world.course.codes)
    sign_in(organiser, "outsider")
    assert organiser.get(job["status_url"]).status_code == 403


def test_job_of_someone_else_or_unknown_is_404(organiser, world):
    assert organiser.get(f"/courses/{world.course.id}/badges/jobs/nope").status_code == 404
    assert organiser.post(f"/courses/{world.course.id}/badges/jobs", data={"layout": "a4-8"}).status_code == 403


@pytest.mark.parametrize("layout", ["a4-8", "cr80"])
def test_preview_is_one_badge_of_the_layout(organiser, world, layout):
    answer = organiser.get(f"/courses/{world.course.id}/badges/preview.png?layout={layout}")
    assert answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    from checkin.documents.badges import LAYOUTS
    assert image.size == (round(LAYOUTS[layout].badge_w / 25.4 * 150), round(LAYOUTS[layout].badge_h / 25.4 * 150))
    assert zxingcpp.read_barcodes(image)[0].text in world.course.codes


def test_logo_upload_checks_type_and_size_and_appears_on_badges(organiser, world):
    cid = world.course.id
    url = f"/courses/{cid}/badges/logo"
    token = csrf_of(organiser, cid)
    gif = organiser.post(url, data={"csrf": token}, files={"logo": ("logo.gif", png(fmt="GIF"), "image/gif")})
    assert gif.status_code == 400 and "logo_not_image" in gif.text
    junk = organiser.post(url, data={"csrf": token}, files={"logo": ("logo.png", b"\x89PNG not really", "image/png")})
    assert junk.status_code == 400
    big = organiser.post(url, data={"csrf": token}, files={"logo": ("big.png", b"\0" * 1_000_001, "image/png")})
    assert big.status_code == 413 and "logo_too_large" in big.text
    ok = organiser.post(url, data={"csrf": token}, files={"logo": ("logo.png", png(), "image/png")}, follow_redirects=False)
    assert ok.status_code == 303
    assert organiser.get(url).headers["content-type"] == "image/png"
    preview = Image.open(io.BytesIO(organiser.get(f"/courses/{cid}/badges/preview.png").content))
    assert preview.mode == "RGB" and (200, 30, 40) in {c for _, c in preview.getcolors(1_000_000)}
    badge = Image.open(io.BytesIO(organiser.get(f"/b/{world.course.codes[0]}/badge.png").content))
    assert badge.mode == "RGB"
    removed = organiser.post(f"{url}/delete", data={"csrf": token}, follow_redirects=False)
    assert removed.status_code == 303 and organiser.get(url).status_code == 404


def test_mail_merge_csv_has_each_personal_link_and_is_audited(organiser, world):
    answer = organiser.get(f"/courses/{world.course.id}/badges/links.csv")
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    for code in world.course.codes:
        assert f"http://127.0.0.1:8000/b/{code}" in text
    assert world.other.codes[0] not in text
    assert audit(world, "badge-links.csv") == [("export", "4 links")]


def test_course_without_roster_gets_a_sample_preview_and_no_pdf(organiser, world):
    from checkin.store import courses
    from checkin.store.courses import NewCourse

    from .conftest import DAY, ZONE

    conn = world.conn()
    with conn:
        organiser_id = conn.execute("SELECT id FROM organisers WHERE username = 'lan'").fetchone()[0]
        cid = courses.insert_course(conn, NewCourse("Lớp mới", DAY, ZONE.key), world.clock(), organiser_id)
    conn.close()
    page = organiser.get(f"/courses/{cid}/badges")
    assert page.status_code == 200 and f"/courses/{cid}/import" in page.text
    preview = Image.open(io.BytesIO(organiser.get(f"/courses/{cid}/badges/preview.png").content))
    assert zxingcpp.read_barcodes(preview)[0].text == "SAMPLE-not-a-real-badge"
    assert organiser.get(f"/courses/{cid}/badges.pdf").status_code == 422


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 5000 5000\n%%EndComments\nshowpage\n"


@pytest.mark.parametrize("name, data", [
    ("logo.eps", EPS),  # a PostScript decoder (Ghostscript) must never be started on an upload
    ("logo.gif", png(fmt="GIF", size=(5000, 10))),
    ("logo.tif", png(fmt="TIFF", size=(10, 5000))),
])
def test_logo_in_another_format_is_refused_as_not_png_or_jpeg_before_it_is_decoded(organiser, world, name, data):
    url = f"/courses/{world.course.id}/badges/logo"
    organiser.cookies.set("lang", "en")
    answer = organiser.post(url, data={"csrf": csrf_of(organiser, world.course.id)},
                            files={"logo": (name, data, "application/octet-stream")})
    assert answer.status_code == 400 and "logo_not_image" in answer.text
    assert "The logo must be a PNG or JPEG image." in answer.text
    assert organiser.get(url).status_code == 404
