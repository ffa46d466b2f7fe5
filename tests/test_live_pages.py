"""The dashboard page, its JSON snapshot, and the organiser's unit x session view with who is missing."""

from __future__ import annotations

import time

import pytest

from checkin.door import scanning
from checkin.live import dashboard
from checkin.store import reports, scans
from checkin.store.db import transaction

from .conftest import bearer, local, rows, sign_in


def check_in(client, world, index: int, token: str | None = None) -> dict:
    answer = client.post("/api/v1/scans", json={"code": world.course.codes[index], "method": "camera"},
                         headers=bearer(token or world.course.token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_dashboard_page_needs_sign_in_and_then_shows_the_course(client, world):
    first = client.get(f"/courses/{world.course.id}/live", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login")
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/live")
    assert page.status_code == 200
    assert page.template.name == "live/dashboard.html"
    assert 'data-events-url="/courses/%d/events"' % world.course.id in page.text
    assert "/static/js/dashboard.js" in page.text


def test_dashboard_of_someone_elses_course_is_refused(client, world):
    sign_in(client, "outsider")
    assert client.get(f"/courses/{world.course.id}/live").status_code == 403
    assert client.get(f"/courses/{world.course.id}/live.json").status_code == 403


def test_snapshot_counts_the_current_session_by_unit_and_minute(client, world):
    check_in(client, world, 0)  # 7:50, on time for the 8:00 opening
    world.clock.set(local(8, 12))
    check_in(client, world, 1)  # late (after 8:10)
    sign_in(client)
    snap = client.get(f"/courses/{world.course.id}/live.json").json()
    assert snap["session"]["id"] == world.course.sessions[0]
    assert snap["now"] == "2026-11-27T01:12:00Z" and snap["refresh_at"] == "2026-11-27T01:30:00Z"  # 8:30, its end
    assert snap["enrolled"] == 4
    assert snap["counts"] == {"present": 1, "late": 1, "excused": 0, "not_arrived": 2}
    units = {u["unit"]: u for u in snap["units"]}
    assert units["Đoàn Thanh niên Sở Tài chính"] == {
        "unit": "Đoàn Thanh niên Sở Tài chính", "enrolled": 2, "arrived": 1, "excused": 0}
    # Units missing the largest share come first: Cục Thuế (0 of 1) before Tài chính (1 of 2).
    assert [u["unit"] for u in snap["units"]][0] == "Đoàn Thanh niên Cục Thuế thành phố"
    assert snap["units"][-1]["unit"] == "Đoàn Thanh niên Sở Y tế"  # complete: last
    assert [r["name"] for r in snap["recent"]] == ["Trần Văn Nam", "Nguyễn Thị Hương"]
    chart = snap["chart"]
    assert chart["start"] == "2026-11-27T00:30:00Z"  # 7:30 local, when the door opened
    assert sum(chart["counts"]) == 2 and chart["counts"][20] == 1 and chart["counts"][42] == 1
    conn = world.conn()
    assert snap["last_event_id"] == scans.get_last_event_id(conn, world.course.id)
    conn.close()


def test_a_snapshot_counts_a_check_in_exactly_when_its_last_event_id_covers_it(client, world):
    """The snapshot's counts and its last_event_id agree, so the stream that resumes there brings every check-in
    the snapshot did not count, once. PostgreSQL numbers a check-in just after its commit: here one is committed by
    the scan's own transaction with nobody told (as by an instance that stopped in between), and the sweep numbers
    it within seconds; until then the snapshot leaves it to the stream. SQLite numbers it in its transaction."""
    conn = world.conn()
    with transaction(conn):
        outcome = scanning.record_scan_tx(conn, scanning.ScanInput(
            course_id=world.course.id, method="camera", code=world.course.codes[0]), world.clock())
    conn.close()
    assert outcome.reason == "checked_in"
    assert outcome.event.id == (scans.PENDING if world.settings.uses_postgres else 1)
    sign_in(client)
    snap = client.get(f"/courses/{world.course.id}/live.json").json()
    assert (snap["counts"]["present"], snap["last_event_id"]) in ((0, 0), (1, 1))
    deadline = time.monotonic() + 15
    while rows(world, "SELECT event_seq FROM scans WHERE id = ?", outcome.scan_id) != [(1,)]:
        assert time.monotonic() < deadline, "the check-in was not numbered"
        time.sleep(0.05)
    snap = client.get(f"/courses/{world.course.id}/live.json").json()
    assert (snap["counts"]["present"], snap["last_event_id"]) == (1, 1)


@pytest.mark.parametrize(
    "hour, minute, expected",
    [
        (7, 0, 0),  # before any door opens: the first session, still to come
        (8, 5, 0),  # the opening, under way
        (8, 35, 1),  # in the break: Chuyên đề 1's door is open
        (9, 32, 2),  # nothing open (Chuyên đề 2 opens 5 minutes before): the next to start
        (9, 36, 2),
        (12, 0, 2),  # after the last: the last
    ],
)
def test_shown_session_follows_the_programme(world, hour, minute, expected):
    conn = world.conn()
    state = reports.read_live_state(conn, world.course.id)
    conn.close()
    assert dashboard.shown_session(state.sessions, local(hour, minute)).id == world.course.sessions[expected]


def test_matrix_shows_units_by_session_and_who_is_missing_with_phones(client, world):
    check_in(client, world, 0)
    world.clock.set(local(8, 50))  # the opening is over: the rest of it are absent
    check_in(client, world, 2)
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/attendance")
    assert page.status_code == 200 and page.template.name == "live/attendance.html"
    matrix = page.context["matrix"]
    opening, topic1, _ = world.course.sessions
    assert matrix["Đoàn Thanh niên Sở Tài chính"][opening].arrived == 1
    assert matrix["Đoàn Thanh niên Sở Tài chính"][topic1].arrived == 1
    assert "1/2" in page.text and "50%" in page.text

    page = client.get(f"/courses/{world.course.id}/attendance", params={"unit": "Đoàn Thanh niên Sở Tài chính"})
    missing = page.context["missing"]
    # Chuyên đề 2 (9:40) has not started: nobody has missed it yet.
    assert [(m.person.full_name, [s.id for s in m.sessions]) for m in missing] == [
        ("Lê Minh Đức", [opening]),
        ("Nguyễn Thị Hương", [topic1]),
    ]
    assert 'href="tel:0912345678"' in page.text

    page = client.get(f"/courses/{world.course.id}/attendance", params={"session": topic1})
    assert sorted(m.person.full_name for m in page.context["missing"]) == [
        "Nguyễn Thị Hương", "Phạm Thu Trang", "Trần Văn Nam"]


def test_matrix_with_a_session_of_another_course_is_not_found(client, world):
    sign_in(client)
    answer = client.get(f"/courses/{world.course.id}/attendance", params={"session": world.other.sessions[0]})
    assert answer.status_code == 404


def test_snapshot_after_undo_no_longer_counts_the_person(client, world):
    answer = check_in(client, world, 0)
    client.post(f"/api/v1/scans/{answer['scan_id']}/undo", headers=bearer(world.course.token))
    world.clock.advance(minutes=1)
    sign_in(client)
    snap = client.get(f"/courses/{world.course.id}/live.json").json()
    assert snap["counts"]["present"] == 0 and snap["recent"] == []
    assert snap["last_event_id"] == 2  # the check-in and its undo
