"""The written reflection: text with a draft saved as the cadre types, or an upload checked by its content (type,
size, zip and decoding bombs, scripts and macros), stored in the database and only ever served as a download;
the deadline, the per-course storage limit; the organiser's review (accept, return with a comment) and the
cadre's resubmission; the bundle per unit as a zip or one PDF, as a job. On both stores."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta

import pypdfium2 as pdfium
import pytest

from checkin.store import completion
from checkin.store.completion import CompletionRule
from checkin.store.db import transaction

from . import reflection_files as files
from .conftest import csrf, local, rows

EN = {"Accept-Language": "en"}


def ask(world, **rule):
    conn = world.conn()
    with transaction(conn):
        completion.set_rule(conn, CompletionRule(world.course.id, require_reflection=True, **rule), world.clock())
    conn.close()


def upload(client, code, name, data, media="application/octet-stream"):
    return client.post(f"/b/{code}/reflection/upload", files={"file": (name, data, media)}, headers=EN,
                       follow_redirects=False)


def stored(world):
    return rows(world, "SELECT enrolment_id, state, body, file_name, file_type, file_size FROM reflections")


def test_the_reflection_page_exists_only_when_the_course_asks(client, world):
    code = world.course.codes[0]
    page = client.get(f"/b/{code}/reflection", headers=EN)
    assert "does not ask for a written reflection" in page.text and 'id="reflection-form"' not in page.text
    assert 'id="reflection-link"' not in client.get(f"/b/{code}", headers=EN).text
    refused = client.post(f"/b/{code}/reflection", data={"body": "x"}, headers=EN)
    assert refused.status_code == 404 and 'data-code="reflection_not_asked"' in refused.text
    ask(world)
    page = client.get(f"/b/{code}/reflection", headers=EN)
    assert page.status_code == 200 and "Write your reflection here" in page.text
    assert 'id="reflection-link"' in client.get(f"/b/{code}", headers=EN).text


def test_draft_is_saved_and_text_submitted(client, world):
    ask(world)
    code, e = world.course.codes[0], world.course.enrolments[0]
    draft = client.post(f"/b/{code}/reflection/draft", json={"draft": "Bản nháp đầu tiên"})
    assert draft.status_code == 200 and draft.json()["saved"] is True
    assert stored(world) == [(e, "draft", "", "", "", 0)]
    assert "Bản nháp đầu tiên" in client.get(f"/b/{code}/reflection", headers=EN).text
    sent = client.post(f"/b/{code}/reflection", data={"body": "Bài thu hoạch hoàn chỉnh."}, headers=EN,
                       follow_redirects=False)
    assert sent.status_code == 303
    assert stored(world) == [(e, "submitted", "Bài thu hoạch hoàn chỉnh.", "", "", 0)]
    empty = client.post(f"/b/{code}/reflection", data={"body": "   "}, headers=EN)
    assert empty.status_code == 422 and "before submitting" in empty.text


@pytest.mark.parametrize("name, make, media, kind", [
    ("bai-thu-hoach.pdf", files.pdf, "application/pdf", "application/pdf"),
    ("bai-thu-hoach.docx", files.docx, "application/octet-stream",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("trang-1.jpg", files.photo, "image/jpeg", "image/jpeg"),
    ("trang-1.png", lambda: files.photo("PNG"), "image/png", "image/png"),
])
def test_uploads_of_each_kind_are_kept_and_served_only_as_downloads(client, world, signed_in, name, make, media, kind):
    ask(world)
    code, e = world.course.codes[0], world.course.enrolments[0]
    data = make()
    assert upload(client, code, name, data, media).status_code == 303
    assert stored(world) == [(e, "submitted", "", name, kind, len(data))]
    download = signed_in.get(f"/courses/{world.course.id}/reflections/{e}/file")
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"].startswith(kind)
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]


@pytest.mark.parametrize("case, name, make, code", [
    ("not a document", "notes.txt", lambda: b"just some text", "unsupported_file"),
    ("html claiming to be a pdf", "a.pdf", lambda: b"<html><script>alert(1)</script></html>", "unsupported_file"),
    ("a photo named .pdf", "a.pdf", files.photo, "file_type_mismatch"),
    ("a pdf named .docx", "a.docx", files.pdf, "file_type_mismatch"),
    ("pdf with javascript", "a.pdf", files.pdf_with_script, "pdf_active_content"),
    ("pdf with escaped javascript name", "a.pdf",
     lambda: files.pdf_with_script().replace(b"/JavaScript", b"/J#61vaScript"), "pdf_active_content"),
    ("damaged pdf", "a.pdf", lambda: b"%PDF-1.7\n garbage", "damaged_file"),
    ("docx with macros", "a.docx", lambda: files.docx(macros=True), "docx_macros"),
    ("docx zip bomb", "a.docx", files.docx_bomb, "file_too_large_unpacked"),
    ("a zip that is no docx", "a.docx",
     lambda: (lambda b: (zipfile.ZipFile(b, "w").writestr("x.txt", "x"), b.getvalue())[1])(io.BytesIO()),
     "unsupported_file"),
    ("photo decoding bomb", "a.png", files.photo_bomb, "image_too_large"),
    ("empty", "a.pdf", lambda: b"", "empty_file"),
])
def test_bad_uploads_are_refused_with_nothing_written(client, world, case, name, make, code):
    ask(world)
    answer = upload(client, world.course.codes[0], name, make())
    assert answer.status_code == 422, case
    assert f'data-code="{code}"' in answer.text or code in answer.text, case
    assert stored(world) == [], case
    assert rows(world, "SELECT COUNT(*) FROM reflection_parts") == [(0,)]


@pytest.mark.parametrize("over", [1, 200_000])  # just over the file limit; over the whole body's limit too
def test_upload_over_the_size_limit_is_refused(client, world, over):
    ask(world)
    pdf = files.pdf()
    big = pdf + b"%" + b"0" * (world.settings.max_upload_bytes - len(pdf) + over)
    answer = upload(client, world.course.codes[0], "big.pdf", big)
    assert answer.status_code == 413 and "larger than the upload limit" in answer.text
    assert stored(world) == []


def test_the_course_storage_limit_counts_every_upload(client, world):
    ask(world, storage_limit_mb=1)
    first = files.pdf(pages=1) + b"\n%" + b"x" * 700_000
    assert upload(client, world.course.codes[0], "a.pdf", first).status_code == 303
    answer = upload(client, world.course.codes[1], "b.pdf", first)
    assert answer.status_code == 413 and "storage for reflections is full" in answer.text
    # Replacing one's own file does not count the old one twice.
    assert upload(client, world.course.codes[0], "a2.pdf", first).status_code == 303
    assert [r[3] for r in stored(world)] == ["a2.pdf"]


def test_after_the_deadline_nothing_is_written(client, world):
    ask(world, reflection_deadline=world.clock() + timedelta(hours=1))
    code = world.course.codes[0]
    assert client.post(f"/b/{code}/reflection/draft", json={"draft": "x"}).status_code == 200
    world.clock.advance(hours=1)
    late = client.post(f"/b/{code}/reflection", data={"body": "Nộp muộn"}, headers=EN)
    assert late.status_code == 409 and "deadline for the reflection has passed" in late.text
    assert upload(client, code, "a.pdf", files.pdf()).status_code == 409
    assert client.post(f"/b/{code}/reflection/draft", json={"draft": "y"}).status_code == 409
    assert rows(world, "SELECT state, draft, body FROM reflections") == [("draft", "x", "")]


def test_organiser_returns_with_a_comment_the_cadre_resubmits_and_it_is_accepted(client, world, signed_in):
    ask(world)
    code, e = world.course.codes[0], world.course.enrolments[0]
    client.post(f"/b/{code}/reflection", data={"body": "Lần một."}, headers=EN)
    url = f"/courses/{world.course.id}/reflections/{e}"
    token = csrf(signed_in, url)
    no_comment = signed_in.post(url + "/review", data={"csrf": token, "decision": "returned", "comment": ""})
    assert no_comment.status_code == 422
    signed_in.post(url + "/review", data={"csrf": token, "decision": "returned", "comment": "Cần liên hệ thực tế."})
    page = client.get(f"/b/{code}/reflection", headers=EN).text
    assert "returned to you" in page and "Cần liên hệ thực tế." in page
    client.post(f"/b/{code}/reflection", data={"body": "Lần hai, có liên hệ thực tế."}, headers=EN)
    assert rows(world, "SELECT state, body FROM reflections") == [("submitted", "Lần hai, có liên hệ thực tế.")]
    signed_in.post(url + "/review", data={"csrf": token, "decision": "accepted", "comment": ""})
    assert rows(world, "SELECT state FROM reflections") == [("accepted",)]
    again = client.post(f"/b/{code}/reflection", data={"body": "Lần ba"}, headers=EN)
    assert again.status_code == 409 and "accepted" in again.text
    listing = signed_in.get(f"/courses/{world.course.id}/reflections?state=accepted").text
    assert "Nguyễn Thị Hương" in listing and "Trần Văn Nam" not in listing
    unit = signed_in.get(f"/courses/{world.course.id}/reflections?unit=Đoàn Thanh niên Sở Y tế").text
    assert "Trần Văn Nam" in unit and "Nguyễn Thị Hương" not in unit
    nothing = signed_in.post(f"/courses/{world.course.id}/reflections/{world.course.enrolments[3]}/review",
                             data={"csrf": token, "decision": "accepted"})
    assert nothing.status_code == 409


def wait_for(client, url, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        job = client.get(url, headers={"Accept": "application/json"}).json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_bundle_per_unit_as_a_zip_and_as_one_pdf(client, world, signed_in):
    ask(world)
    c = world.course
    client.post(f"/b/{c.codes[0]}/reflection", data={"body": "Bài viết của Hương."}, headers=EN)
    upload(client, c.codes[2], "duc.pdf", files.pdf(pages=2))
    upload(client, c.codes[1], "nam.docx", files.docx("Bài của Nam"))
    token = csrf(signed_in, f"/courses/{c.id}/reflections")
    unit = "Đoàn Thanh niên Sở Tài chính"
    started = signed_in.post(f"/courses/{c.id}/reflections/bundle", data={"csrf": token, "unit": unit, "format": "zip"},
                             headers={"Accept": "application/json"})
    assert started.status_code == 202
    job = wait_for(signed_in, started.json()["status_url"])
    assert job["state"] == "done", job
    download = signed_in.get(job["download_url"])
    assert download.headers["content-disposition"].startswith("attachment;")
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert names == [f"{unit}/0001 Lê Minh Đức.pdf", f"{unit}/0002 Nguyễn Thị Hương.txt", "index.csv"]
    started = signed_in.post(f"/courses/{c.id}/reflections/bundle", data={"csrf": token, "unit": "*", "format": "pdf"},
                             headers={"Accept": "application/json"})
    job = wait_for(signed_in, started.json()["status_url"])
    assert job["state"] == "done", job
    pdf = pdfium.PdfDocument(signed_in.get(job["download_url"]).content)
    # Three heading pages (one per person, the text and the docx's words on theirs) and Đức's two pages.
    assert len(pdf) == 5
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Bài viết của Hương." in text and "Bài của Nam" in text and "(2)" in text
