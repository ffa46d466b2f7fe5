"""Self check-in with the room code, on both stores: the code changes every few seconds and is good for two steps
only, for its own course and a session whose window is open; the check-in goes through the one scan path (method
room_code); a badge is bound to the first phone that used it, a second phone is refused and shown to the
organiser."""

from __future__ import annotations

from datetime import timedelta

import pytest

from checkin.completion import room_code

from .conftest import csrf, local, rows

KEY_A = "phone-a-" + "a" * 24
KEY_B = "phone-b-" + "b" * 24


def code_now(world, session_index=0, course=None):
    course = course or world.course
    return room_code.make(world.settings.secret_key, course.id, course.sessions[session_index], world.clock())


def check_in(client, badge, code, key=KEY_A):
    return client.post(f"/b/{badge}/room", json={"room_code": code, "device_key": key})


def test_room_code_checks_the_holder_in_once(client, world):
    world.clock.set(local(7, 55))
    code = code_now(world)
    answer = check_in(client, world.course.codes[0], code)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["reason"], body["accepted"], body["session"]["title"]) == ("checked_in", True, "Khai mạc")
    assert rows(world, "SELECT method, reason, enrolment_id FROM scans") == [
        ("room_code", "checked_in", world.course.enrolments[0])]
    assert rows(world, "SELECT status FROM attendance") == [("present",)]
    again = check_in(client, world.course.codes[0], code_now(world)).json()
    assert again["reason"] == "already_checked_in"


def test_the_same_code_30_seconds_later_is_refused(client, world):
    world.clock.set(local(7, 55))
    code = code_now(world)
    world.clock.advance(seconds=room_code.STEP_SECONDS)  # the next step: still good (read at the end of its step)
    assert check_in(client, world.course.codes[1], code).json()["reason"] == "checked_in"
    world.clock.advance(seconds=30)
    late = check_in(client, world.course.codes[2], code)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "room_code_expired")
    assert rows(world, "SELECT COUNT(*) FROM scans WHERE enrolment_id = ?", world.course.enrolments[2]) == [(0,)]


@pytest.mark.parametrize("case, make, status, error", [
    ("forged", lambda w: code_now(w)[:-3] + "AAA", 422, "room_code_invalid"),
    ("not a room code", lambda w: "https://example.com/", 422, "room_code_invalid"),
    ("a badge code", lambda w: w.course.codes[1], 422, "room_code_invalid"),
    ("another course", lambda w: code_now(w, course=w.other), 409, "room_code_other_course"),
    ("a session not open now", lambda w: code_now(w, session_index=2), 409, "room_code_session_closed"),
    ("from the future", lambda w: room_code.make(w.settings.secret_key, w.course.id, w.course.sessions[0],
                                                 w.clock() + timedelta(seconds=60)), 409, "room_code_expired"),
])
def test_bad_room_codes_are_refused_with_nothing_written(client, world, case, make, status, error):
    world.clock.set(local(7, 55))
    answer = check_in(client, world.course.codes[0], make(world))
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, error), case
    assert rows(world, "SELECT COUNT(*) FROM scans") == [(0,)]
    assert rows(world, "SELECT COUNT(*) FROM room_devices") == [(0,)]


def test_a_second_phone_is_refused_and_shown_to_the_organiser(client, world, signed_in):
    world.clock.set(local(7, 55))
    assert check_in(client, world.course.codes[0], code_now(world), KEY_A).json()["reason"] == "checked_in"
    world.clock.set(local(8, 45))  # the next session, from another phone
    second = check_in(client, world.course.codes[0], code_now(world, 1), KEY_B).json()
    assert (second["reason"], second["accepted"]) == ("other_device", False)
    assert rows(world, "SELECT method, reason, accepted FROM scans ORDER BY id")[-1] == ("room_code", "other_device", 0)
    assert rows(world, "SELECT COUNT(*) FROM attendance WHERE session_id = ?", world.course.sessions[1]) == [(0,)]
    state = signed_in.get(f"/courses/{world.course.id}/room/state.json").json()
    assert state["open"] and state["session"]["title"] == "Chuyên đề 1" and state["code"].startswith("CHKROOM.")
    assert [r["name"] for r in state["refused"]] == ["Nguyễn Thị Hương"]
    # The first phone still works; the organiser may release the badge for a new phone.
    assert check_in(client, world.course.codes[0], code_now(world, 1), KEY_A).json()["reason"] == "checked_in"
    url = f"/courses/{world.course.id}/room/devices/{world.course.enrolments[0]}/release"
    assert signed_in.post(url, data={"csrf": csrf(signed_in, f"/courses/{world.course.id}/room")},
                          follow_redirects=False).status_code == 303
    world.clock.set(local(9, 40))
    assert check_in(client, world.course.codes[0], code_now(world, 2), KEY_B).json()["reason"] == "checked_in"


def test_bad_device_key_and_bad_badge(client, world):
    world.clock.set(local(7, 55))
    bad = check_in(client, world.course.codes[0], code_now(world), "short")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "device_key_missing")
    unknown = check_in(client, "x" * 20, code_now(world))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "badge_not_found")
    assert rows(world, "SELECT COUNT(*) FROM scans") == [(0,)]


def test_the_room_screen_and_its_qr(signed_in, world):
    world.clock.set(local(7, 55))
    page = signed_in.get(f"/courses/{world.course.id}/room")
    assert page.status_code == 200 and "Khai mạc" in page.text and 'id="room-qr"' in page.text
    qr = signed_in.get(f"/courses/{world.course.id}/room/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    world.clock.set(local(11, 0))
    state = signed_in.get(f"/courses/{world.course.id}/room/state.json?session={world.course.sessions[0]}").json()
    assert state["open"] is False and state["code"] is None
    assert signed_in.get(f"/courses/{world.course.id}/room/qr.svg?session={world.course.sessions[0]}").status_code == 409
