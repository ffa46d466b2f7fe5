"""Certificates as a job: issued in short transactions (the door's writes get in between), followed by id from
any server sharing the database, drawn, then downloaded; with or without JavaScript; cut short and run again."""

from __future__ import annotations

import asyncio
import time

import pypdfium2 as pdfium
import pytest
from starlette.testclient import TestClient

from checkin.documents import certificates
from checkin.app import create_app
from checkin.clock import to_db
from checkin.store import people, scans
from checkin.store.db import connect, open_database, transaction
from checkin.store.people import PersonDetails

from .conftest import csrf, local, rows, sign_in


def page_count(data: bytes) -> int:
    doc = pdfium.PdfDocument(data)
    try:
        return len(doc)
    finally:
        doc.close()


def enrol_attendees(world, n: int) -> None:
    """n more people on the course, each present at every session."""
    conn = world.conn()
    now = world.clock()
    with transaction(conn):
        for i in range(n):
            participant_id = people.insert_participant(
                conn, PersonDetails(f"Học viên {i:04d}", "Đoàn Thanh niên Sở Xây dựng"), now)
            enrolment_id = people.enrol(conn, world.course.id, participant_id, now)
            for session_id in world.course.sessions:
                scans.upsert_attendance(conn, enrolment_id, session_id, "present", None, local(8, 0), now)
    conn.close()


def valid_certificates(world) -> int:
    return rows(world, "SELECT COUNT(*) FROM certificates WHERE course_id = ? AND revoked_at IS NULL",
                world.course.id)[0][0]


def wait_for(client, url: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = client.get(url, headers={"Accept": "application/json"}).json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture
def organiser(client, world):
    world.clock.set(local(11, 0))  # every session is over
    client.cookies.set("lang", "en")
    sign_in(client)
    return client


def test_issuing_commits_a_chunk_at_a_time_so_other_writes_get_in_between(world):
    enrol_attendees(world, 650)
    seen = []

    async def scenario():
        db = await open_database(world.settings.database)
        try:
            async def progress(done, total):
                # Another process's view (its own connection) between two chunks, and a door's write.
                other = connect(world.settings.database)
                try:
                    seen.append((done, other.execute("SELECT COUNT(*) FROM certificates").fetchone()[0]))
                finally:
                    other.close()
                await db.write(lambda conn: conn.execute("UPDATE devices SET last_seen_at = ?",
                                                         (to_db(world.clock()),)))

            plan = await db.read(certificates.plan_certificates, world.course.id, local(11, 0))
            return await certificates.issue_in_chunks(db.write, plan, local(11, 0), 1, progress=progress,
                                                      budget=None)  # chunks of 150
        finally:
            await db.close()

    withdrawn = asyncio.run(scenario())
    assert seen == [(n, n) for n in (*range(150, 650, 150), 650)]
    assert withdrawn == 0 and valid_certificates(world) == 650


def test_an_issue_cut_short_is_completed_by_issuing_again_and_codes_are_kept(organiser, world):
    enrol_attendees(world, 400)
    conn = world.conn()
    plan = certificates.plan_certificates(conn, world.course.id, local(11, 0))
    with transaction(conn):  # the first chunk went in, then the server stopped
        certificates.issue_chunk_tx(conn, plan, 0, local(11, 0))
    before = dict(rows(world, "SELECT enrolment_id, code FROM certificates"))
    conn.close()
    assert len(before) == certificates.ISSUE_CHUNK

    started = organiser.post(f"/courses/{world.course.id}/certificates/jobs",
                             data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports")},
                             headers={"Accept": "application/json"})
    assert started.status_code == 202
    job = wait_for(organiser, started.json()["status_url"])
    assert (job["state"], job["stage"], job["done"], job["total"]) == ("done", "done", 400, 400)
    after = dict(rows(world, "SELECT enrolment_id, code FROM certificates"))
    assert len(after) == 400 and all(after[e] == code for e, code in before.items())
    download = organiser.get(job["download_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert page_count(download.content) == 400
    assert rows(world, "SELECT detail FROM audit_log WHERE action = 'certificates_issued'") == [
        ("400 valid, 0 revoked, at least 3 of 3 sessions",)]


def test_without_javascript_the_form_leads_to_a_page_that_follows_the_job_to_the_download(organiser, world):
    enrol_attendees(world, 5)
    answer = organiser.post(f"/courses/{world.course.id}/certificates/jobs",
                            data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports"), "lang": "en"},
                            follow_redirects=False)
    assert answer.status_code == 303
    url = answer.headers["location"]
    assert url.startswith(f"/courses/{world.course.id}/certificates/jobs/")
    deadline = time.monotonic() + 30
    while True:
        page = organiser.get(url)
        assert page.status_code == 200 and page.template.name == "reports/certificates_job.html"
        if 'data-state="running"' not in page.text or time.monotonic() > deadline:
            break
        assert '<meta http-equiv="refresh" content="2">' in page.text
        time.sleep(0.1)
    assert 'data-state="done"' in page.text and "The certificates are ready: 5 pages." in page.text
    assert 'http-equiv="refresh"' not in page.text
    download = organiser.get(f"{url}/pdf")
    assert download.status_code == 200 and page_count(download.content) == 5
    assert "CERTIFICATE OF ATTENDANCE" in pdfium.PdfDocument(download.content)[0].get_textpage().get_text_range()


def test_the_reports_page_starts_the_job_and_its_script_follows_it(organiser, world):
    page = organiser.get(f"/courses/{world.course.id}/reports")
    assert f'action="/courses/{world.course.id}/certificates/jobs"' in page.text
    assert 'id="certificates-form"' in page.text and "/static/js/certificates.js" in page.text


def test_the_job_is_read_from_the_database_by_any_server(organiser, world):
    enrol_attendees(world, 3)
    started = organiser.post(f"/courses/{world.course.id}/certificates/jobs",
                             data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports")},
                             headers={"Accept": "application/json"})
    job = wait_for(organiser, started.json()["status_url"])
    with TestClient(create_app(world.settings, clock=world.clock)) as second:
        sign_in(second)
        there = second.get(job["status_url"], headers={"Accept": "application/json"})
        assert there.status_code == 200 and there.json() == job
        assert page_count(second.get(job["download_url"]).content) == 3
    assert rows(world, "SELECT kind, stage, done, total FROM jobs") == [("certificates", "done", 3, 3)]


def test_a_double_click_follows_the_running_job_and_others_cannot_see_it(organiser, client, world):
    enrol_attendees(world, 200)
    url = f"/courses/{world.course.id}/certificates/jobs"
    token = csrf(organiser, f"/courses/{world.course.id}/reports")
    first = organiser.post(url, data={"csrf": token}, headers={"Accept": "application/json"}).json()
    second = organiser.post(url, data={"csrf": token}, headers={"Accept": "application/json"}).json()
    if first["state"] == "running":  # a second press while it runs follows the same job
        assert second["id"] == first["id"]
    wait_for(organiser, second["status_url"])
    other_course = organiser.get(f"/courses/{world.other.id}/certificates/jobs/{first['id']}",
                                 headers={"Accept": "application/json"})
    assert other_course.status_code in (403, 404)
    unknown = organiser.get(f"{url}/not-a-job", headers={"Accept": "application/json"})
    assert unknown.status_code == 404 and "job_not_found" in unknown.text
    sign_in(client, "outsider")
    assert client.get(first["status_url"]).status_code in (403, 404)
    assert client.get(f"{first['status_url']}/pdf").status_code in (403, 404)


def test_a_job_whose_server_stopped_shows_as_cut_short_and_issuing_again_starts_afresh(organiser, world):
    conn = world.conn()
    conn.execute("INSERT INTO jobs (id, kind, course_id, organiser_id, stage, done, total, created_at, updated_at)"
                 " VALUES ('stopped-job', 'certificates', ?, 1, 'issuing', 300, 20000, ?, ?)",
                 (world.course.id, to_db(local(10, 50)), to_db(local(10, 50))))
    conn.close()
    status = f"/courses/{world.course.id}/certificates/jobs/stopped-job"
    job = organiser.get(status, headers={"Accept": "application/json"}).json()
    assert (job["state"], job["error"]) == ("failed", "interrupted")
    assert "Issuing was cut short" in organiser.get(status).text
    started = organiser.post(f"/courses/{world.course.id}/certificates/jobs",
                             data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports")},
                             headers={"Accept": "application/json"}).json()
    assert started["id"] != "stopped-job"
    assert wait_for(organiser, started["status_url"])["state"] == "done"
    assert rows(world, "SELECT stage, error FROM jobs WHERE id = 'stopped-job'") == [("failed", "interrupted")]


def test_a_job_needs_the_form_token_and_a_known_language(organiser, world):
    url = f"/courses/{world.course.id}/certificates/jobs"
    assert organiser.post(url, data={}).status_code == 403
    refused = organiser.post(url, data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports"), "lang": "fr"})
    assert refused.status_code == 422 and "bad_language" in refused.text
    assert rows(world, "SELECT COUNT(*) FROM jobs") == [(0,)]


def test_jobs_older_than_half_an_hour_go_with_their_file_when_the_next_one_starts(organiser, world):
    conn = world.conn()
    with transaction(conn):
        for job_id, course_id, stage, updated in (("old-done", world.course.id, "done", local(10, 0)),
                                                  ("old-running", world.other.id, "drawing", local(10, 59))):
            conn.execute("INSERT INTO jobs (id, kind, course_id, organiser_id, stage, created_at, updated_at)"
                         " VALUES (?, 'certificates', ?, 1, ?, ?, ?)",
                         (job_id, course_id, stage, to_db(local(10, 0)), to_db(updated)))
            conn.execute("INSERT INTO job_parts (job_id, part, data) VALUES (?, 0, ?)", (job_id, b"%PDF"))
    conn.close()
    started = organiser.post(f"/courses/{world.course.id}/certificates/jobs",
                             data={"csrf": csrf(organiser, f"/courses/{world.course.id}/reports")},
                             headers={"Accept": "application/json"}).json()
    assert wait_for(organiser, started["status_url"])["state"] == "done"
    # The finished one went; the one still running (it spoke a minute ago) stays.
    assert rows(world, "SELECT id FROM jobs WHERE id LIKE 'old-%'") == [("old-running",)]
    assert rows(world, "SELECT job_id FROM job_parts WHERE job_id LIKE 'old-%'") == [("old-running",)]
