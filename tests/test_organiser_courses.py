"""Organiser pages for courses and sessions, over HTTP against a real app and database."""

from __future__ import annotations

import re

import pytest

from checkin.store import course_setup, courses
from checkin.store.courses import NewCourse
from checkin.store.db import transaction

from .conftest import rows, sign_in


def csrf(client, path="/courses"):
    page = client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


COURSE = {"title": "Lớp tập huấn nghiệp vụ", "course_date": "2026-12-05", "time_zone": "Asia/Ho_Chi_Minh",
          "venue": "Hội trường B", "organiser_name": "Đoàn Khối", "open_before_min": "20", "late_after_min": "5",
          "after_end": "late"}


def test_course_list_shows_only_my_courses(signed_in, world):
    page = signed_in.get("/courses")
    assert page.status_code == 200
    assert "Lớp bồi dưỡng cán bộ Đoàn" in page.text
    assert "Lớp tập huấn khác" not in page.text


def test_signed_out_organiser_page_redirects_to_sign_in(client, world):
    answer = client.get(f"/courses/{world.course.id}/sessions", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_another_organisers_course_is_403(signed_in, world):
    for path in ("", "/edit", "/sessions", "/copy"):
        assert signed_in.get(f"/courses/{world.other.id}{path}").status_code == 403
    answer = signed_in.post(f"/courses/{world.other.id}/edit", data={**COURSE, "csrf": csrf(signed_in)})
    assert answer.status_code == 403
    assert rows(world, "SELECT title FROM courses WHERE id = ?", world.other.id) == [("Lớp tập huấn khác",)]


def test_create_course_stores_it_and_makes_me_its_organiser(signed_in, world):
    answer = signed_in.post("/courses/new", data={**COURSE, "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303
    course_id = int(answer.headers["location"].split("/")[2])
    assert rows(world, "SELECT title, course_date, open_before_min, late_after_min, after_end FROM courses WHERE id = ?",
                course_id) == [("Lớp tập huấn nghiệp vụ", "2026-12-05", 20, 5, "late")]
    assert rows(world, "SELECT organiser_id FROM course_organisers WHERE course_id = ?", course_id) == [(1,)]
    empty = signed_in.get(f"/courses/{course_id}/sessions")
    assert "No session yet" in empty.text


def test_form_without_csrf_is_refused_and_writes_nothing(signed_in, world):
    before = rows(world, "SELECT COUNT(*) FROM courses")
    answer = signed_in.post("/courses/new", data=COURSE)
    assert answer.status_code == 403 and "csrf_failed" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM courses") == before


def test_invalid_course_form_shows_messages_next_to_fields(signed_in, world):
    answer = signed_in.post("/courses/new", data={**COURSE, "title": "", "course_date": "27/11", "late_after_min": "x",
                                                  "csrf": csrf(signed_in)})
    assert answer.status_code == 422
    assert 'id="f-title-error"' in answer.text and 'id="f-course_date-error"' in answer.text
    assert 'id="f-late_after_min-error"' in answer.text
    assert "A date such as 2026-11-27." in answer.text
    assert 'value="Hội trường B"' in answer.text  # what was typed comes back


def test_add_session_in_course_zone_is_stored_in_utc(signed_in, world):
    token = csrf(signed_in)
    answer = signed_in.post(f"/courses/{world.course.id}/sessions", data={
        "title": "Chuyên đề 3", "starts": "10:40", "ends": "11:30", "open_before_min": "", "late_after_min": "15",
        "csrf": token}, follow_redirects=False)
    assert answer.status_code == 303
    stored = rows(world, "SELECT position, starts_at, ends_at, open_before_min, late_after_min FROM sessions"
                  " WHERE course_id = ? AND title = ?", world.course.id, "Chuyên đề 3")
    assert stored == [(4, "2026-11-27T03:40:00.000000Z", "2026-11-27T04:30:00.000000Z", None, 15)]


def test_session_ending_before_it_starts_is_refused(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/sessions", data={
        "title": "X", "starts": "11:00", "ends": "10:00", "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and 'id="f-ends-error"' in answer.text


def test_edit_session_overrides_window(signed_in, world):
    sid = world.course.sessions[0]
    answer = signed_in.post(f"/courses/{world.course.id}/sessions/{sid}/edit", data={
        "title": "Khai mạc lớp", "starts": "08:00", "ends": "08:45", "open_before_min": "45", "late_after_min": "0",
        "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT title, ends_at, open_before_min, late_after_min FROM sessions WHERE id = ?", sid) == [
        ("Khai mạc lớp", "2026-11-27T01:45:00.000000Z", 45, 0)]


def test_move_session_down_reorders(signed_in, world):
    first, second, third = world.course.sessions
    signed_in.post(f"/courses/{world.course.id}/sessions/{first}/move", data={"direction": "down", "csrf": csrf(signed_in)})
    assert [r[0] for r in rows(world, "SELECT id FROM sessions WHERE course_id = ? ORDER BY position",
                               world.course.id)] == [second, first, third]


def test_session_with_checkins_cannot_be_deleted(signed_in, client, world):
    client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers={"Authorization": f"Bearer {world.course.token}"})
    first = world.course.sessions[0]
    answer = signed_in.post(f"/courses/{world.course.id}/sessions/{first}/delete", data={"csrf": csrf(signed_in)})
    assert answer.status_code == 409 and "session_in_use" in answer.text
    last = world.course.sessions[2]
    assert signed_in.post(f"/courses/{world.course.id}/sessions/{last}/delete", data={"csrf": csrf(signed_in)},
                          follow_redirects=False).status_code == 303
    assert rows(world, "SELECT COUNT(*) FROM sessions WHERE course_id = ?", world.course.id) == [(2,)]


def test_edit_course_date_moves_sessions_to_the_new_day(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/edit", data={**COURSE, "course_date": "2026-11-28",
                                                                       "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT starts_at FROM sessions WHERE course_id = ? ORDER BY position LIMIT 1",
                world.course.id) == [("2026-11-28T01:00:00.000000Z",)]
    assert rows(world, "SELECT after_end FROM courses WHERE id = ?", world.course.id) == [("late",)]


def test_copy_course_keeps_sessions_on_the_new_date_without_people(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/copy", data={"title": "Lớp khóa 2", "course_date": "2027-03-10",
                                                                       "csrf": csrf(signed_in)}, follow_redirects=False)
    new_id = int(answer.headers["location"].split("/")[2])
    assert rows(world, "SELECT title, starts_at, open_before_min FROM sessions WHERE course_id = ? ORDER BY position",
                new_id) == [("Khai mạc", "2027-03-10T01:00:00.000000Z", None),
                            ("Chuyên đề 1", "2027-03-10T01:40:00.000000Z", None),
                            ("Chuyên đề 2", "2027-03-10T02:40:00.000000Z", 5)]
    assert rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", new_id) == [(0,)]


def test_archive_hides_course_from_main_list_and_restore_brings_it_back(signed_in, world):
    token = csrf(signed_in)
    signed_in.post(f"/courses/{world.course.id}/archive", data={"action": "archive", "csrf": token})
    assert rows(world, "SELECT archived_at IS NOT NULL FROM courses WHERE id = ?", world.course.id) == [(1,)]
    page = signed_in.get("/courses")
    assert "Archived courses (1)" in page.text
    signed_in.post(f"/courses/{world.course.id}/archive", data={"action": "restore", "csrf": token})
    assert rows(world, "SELECT archived_at FROM courses WHERE id = ?", world.course.id) == [(None,)]


def test_add_coorganiser_gives_them_the_course(signed_in, client, world):
    answer = signed_in.post(f"/courses/{world.course.id}/organisers", data={"username": "outsider", "csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT COUNT(*) FROM course_organisers WHERE course_id = ?", world.course.id) == [(2,)]
    unknown = signed_in.post(f"/courses/{world.course.id}/organisers", data={"username": "nobody", "csrf": csrf(signed_in)})
    assert unknown.status_code == 422 and 'id="f-username-error"' in unknown.text


def test_new_course_page_and_empty_overview(signed_in, world):
    assert signed_in.get("/courses/new").status_code == 200
    token = csrf(signed_in)
    new_id = int(signed_in.post("/courses/new", data={**COURSE, "csrf": token}, follow_redirects=False)
                 .headers["location"].split("/")[2])
    page = signed_in.get(f"/courses/{new_id}")
    assert "Next steps" in page.text and f"/courses/{new_id}/import" in page.text


PAGES = ["/courses", "/courses/new", "/courses/{c}", "/courses/{c}/edit", "/courses/{c}/copy", "/courses/{c}/sessions",
         "/courses/{c}/sessions/{s}/edit", "/courses/{c}/import", "/courses/{c}/people", "/courses/{c}/people/new",
         "/courses/{c}/people/{e}", "/courses/{c}/people/{e}/edit", "/courses/{c}/walk-in", "/courses/{c}/audit"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_organiser_page_renders_in_both_languages(client, world, lang):
    client.cookies.set("lang", lang)
    sign_in(client)
    for path in PAGES:
        url = path.format(c=world.course.id, s=world.course.sessions[0], e=world.course.enrolments[0])
        page = client.get(url)
        assert page.status_code == 200, url
        assert f'<html lang="{lang}">' in page.text
    assert "Thiết lập" in client.get(f"/courses/{world.course.id}").text or lang == "en"


def test_changing_the_zone_keeps_the_wall_clock_times(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/edit", data={**COURSE, "course_date": "2026-11-27",
                                                                       "time_zone": "UTC", "csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT starts_at FROM sessions WHERE course_id = ? ORDER BY position LIMIT 1",
                world.course.id) == [("2026-11-27T08:00:00.000000Z",)]


def test_unknown_zone_is_refused_next_to_the_field(signed_in, world):
    answer = signed_in.post("/courses/new", data={**COURSE, "time_zone": "Mars/Olympus", "csrf": csrf(signed_in)})
    assert answer.status_code == 422 and 'id="f-time_zone-error"' in answer.text


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"])
def test_course_date_outside_2000_to_2100_is_refused_next_to_the_field(signed_in, world, day):
    token = csrf(signed_in)
    created = signed_in.post("/courses/new", data={**COURSE, "course_date": day, "csrf": token})
    assert created.status_code == 422 and 'id="f-course_date-error"' in created.text
    assert "A date from 2000-01-01 to 2100-12-31." in created.text
    edited = signed_in.post(f"/courses/{world.course.id}/edit", data={**COURSE, "course_date": day, "csrf": token})
    assert edited.status_code == 422 and "A date from 2000-01-01 to 2100-12-31." in edited.text
    copied = signed_in.post(f"/courses/{world.course.id}/copy", data={"title": "Bản sao", "course_date": day,
                                                                      "csrf": token})
    assert copied.status_code == 422 and "A date from 2000-01-01 to 2100-12-31." in copied.text
    assert rows(world, "SELECT COUNT(*) FROM courses") == [(2,)]
    assert rows(world, "SELECT course_date FROM courses WHERE id = ?", world.course.id) == [("2026-11-27",)]


@pytest.mark.parametrize("day", ["2000-01-01", "2100-12-31"])
def test_course_dates_at_the_ends_of_the_range_are_accepted(signed_in, world, day):
    answer = signed_in.post("/courses/new", data={**COURSE, "course_date": day, "csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert answer.status_code == 303


def test_courses_naming_the_same_organising_body_share_it_and_an_edit_follows_the_name(world):
    from checkin.store import bodies

    conn = world.conn()
    mine, other = (bodies.get_course_body(conn, c) for c in (world.course.id, world.other.id))
    assert mine == other and mine.name == "Đoàn Khối"  # both test courses print the same body
    with transaction(conn):
        course = courses.get_course(conn, world.other.id)
        course_setup.update_course(conn, world.other.id, NewCourse(
            title=course.title, course_date=course.course_date, time_zone=course.time_zone, venue=course.venue,
            organiser_name="  Thành đoàn   Hải Phòng "))
    moved = bodies.get_course_body(conn, world.other.id)
    assert moved.name == "Thành đoàn Hải Phòng" and moved.id != mine.id
    assert bodies.get_course_body(conn, world.course.id) == mine
