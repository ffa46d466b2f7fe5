"""Integers read from forms, query strings and headers: "²" passes str.isdigit() but not int(), and 5,000 digits
pass isdigit() but exceed int()'s limit. Each is answered as a 4xx or as the field's message, never a 500."""

from __future__ import annotations

import asyncio
import re

import httpx2 as httpx
import pytest

from checkin.store import organisers
from checkin.store.db import transaction

from .conftest import csrf, rows, sign_in

NOT_NUMBERS = ["²", "٣", "9" * 5000]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_paper_page_with_a_count_that_is_not_a_number_is_400(signed_in, world, value):
    answer = signed_in.get(f"/courses/{world.course.id}/paper", params={"entered": value, "already": "0"})
    assert answer.status_code == 400 and "bad_count" in answer.text


@pytest.mark.parametrize("field, value", [("tick", v) for v in NOT_NUMBERS] + [("numbers", "12, " + "9" * 5000)])
def test_paper_entry_with_a_number_that_is_not_a_number_enters_nothing(signed_in, world, field, value):
    answer = signed_in.post(f"/courses/{world.course.id}/paper", data={
        "session": str(world.course.sessions[0]), field: value, "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and "bad_numbers" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM scans WHERE method = 'paper'") == [(0,)]


@pytest.mark.parametrize("value", ["²", "9" * 5000])  # not "٣": int() reads it, and the stream would never end
def test_event_stream_with_a_last_event_id_that_is_not_a_number_is_422(signed_in, world, value):
    answer = signed_in.get(f"/courses/{world.course.id}/events", params={"last_event_id": value})
    assert answer.status_code == 422 and "bad_last_event_id" in answer.text


def test_event_stream_with_a_last_event_id_header_that_is_not_a_number_is_422(app, world):
    answer = asyncio.run(_signed_in_request(app, world, "GET", f"/courses/{world.course.id}/events",
                                            headers=[(b"last-event-id", "²".encode("latin-1"))]))
    assert answer.status_code == 422 and "bad_last_event_id" in answer.text


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_badge_sheet_for_a_person_that_is_not_a_number_is_400(signed_in, world, value):
    answer = signed_in.get(f"/courses/{world.course.id}/badges.pdf", params={"scope": "people", "person": value})
    assert answer.status_code == 400 and "bad_selection" in answer.text


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_walk_in_replacing_someone_who_is_not_a_number(signed_in, world, value):
    form = signed_in.get(f"/courses/{world.course.id}/walk-in", params={"replaces": value})
    assert form.status_code == 200
    answer = signed_in.post(f"/courses/{world.course.id}/walk-in", data={
        "full_name": "Ngô Thị Yến", "unit": "Đoàn Thanh niên Sở Y tế", "replaces": value, "session_id": "",
        "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and "This person is not on this course." in answer.text
    assert rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", world.course.id) == [(4,)]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_certificate_rule_that_is_not_a_number_is_422(signed_in, world, value):
    answer = signed_in.post(f"/courses/{world.course.id}/certificates/rule",
                            data={"min_sessions": value, "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and "bad_min_sessions" in answer.text


@pytest.mark.parametrize("field", ["course_id", "organiser_id"])
@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_assigning_a_course_or_organiser_that_is_not_a_number_shows_the_field_message(client, world, field, value):
    conn = world.conn()
    with transaction(conn):
        organisers.insert_organiser(conn, "admin", "Quản trị", "admin password 1", world.clock(), is_admin=True)
    conn.close()
    client.cookies.set("lang", "en")
    sign_in(client, "admin", "admin password 1")
    data = {"course_id": str(world.course.id), "organiser_id": "2", field: value, "csrf": csrf(client)}
    answer = client.post("/organisers/assign", data=data)
    assert answer.status_code == 422 and answer.text.count("Choose one of the options.") == 1


@pytest.mark.parametrize("value", NOT_NUMBERS[:2] + ["9" * 12])
def test_course_with_minutes_that_are_not_a_number_shows_the_field_message(signed_in, world, value):
    answer = signed_in.post("/courses/new", data={
        "title": "Lớp mới", "course_date": "2026-12-05", "time_zone": "Asia/Ho_Chi_Minh", "venue": "", "organiser_name": "",
        "open_before_min": value, "late_after_min": "5", "after_end": "late", "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and 'id="f-open_before_min-error"' in answer.text


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_excusing_for_a_session_that_is_not_a_number_is_422(signed_in, world, value):
    answer = signed_in.post(f"/courses/{world.course.id}/people/{world.course.enrolments[0]}/excuse",
                            data={"session_id": value, "note": "Đi công tác", "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and "unknown_session" in answer.text


def test_upload_whose_length_is_not_a_number_is_411(app, world):
    answer = asyncio.run(_signed_in_request(app, world, "POST", f"/courses/{world.course.id}/import", content=b"x",
                                            headers=[(b"content-length", "²".encode("latin-1"))]))
    assert answer.status_code == 411 and "length_required" in answer.text


async def _signed_in_request(app, world, method, url, **kwargs):
    # Headers a browser would not send (non-ASCII digits), so straight to the app rather than the test client.
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            page = await http.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            await http.post("/login", data={"username": "lan", "password": world.organiser_password, "csrf": token})
            return await http.request(method, url, **kwargs)
