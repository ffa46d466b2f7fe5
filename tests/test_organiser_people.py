"""Participants, the person page, badges, excusals, manual corrections, walk-ins and the audit trail."""

from __future__ import annotations


import pytest

from .conftest import bearer, csrf, local, rows


def people_url(world, suffix=""):
    return f"/courses/{world.course.id}/people{suffix}"


def test_search_ignores_diacritics_and_case(signed_in, world):
    page = signed_in.get(people_url(world), params={"q": "nguyen thi huong"})
    assert page.status_code == 200
    assert "Nguyễn Thị Hương" in page.text and "Trần Văn Nam" not in page.text
    assert "1 of 4 participants" in page.text


def test_filter_by_unit(signed_in, world):
    page = signed_in.get(people_url(world), params={"unit": "Đoàn Thanh niên Sở Tài chính"})
    assert "Nguyễn Thị Hương" in page.text and "Lê Minh Đức" in page.text and "Trần Văn Nam" not in page.text


def test_filter_by_attendance_in_a_session(signed_in, client, world):
    client.post("/api/v1/scans", json={"code": world.course.codes[1]}, headers=bearer(world.course.token))
    arrived = signed_in.get(people_url(world), params={"session": world.course.sessions[0], "status": "present"})
    assert "Trần Văn Nam" in arrived.text and "Nguyễn Thị Hương" not in arrived.text
    missing = signed_in.get(people_url(world), params={"status": "none"})
    assert "Trần Văn Nam" not in missing.text and "3 of 4 participants" in missing.text


def test_other_organisers_people_are_403(signed_in, world):
    assert signed_in.get(f"/courses/{world.other.id}/people").status_code == 403
    assert signed_in.get(f"/courses/{world.other.id}/people/{world.other.enrolments[0]}").status_code == 403
    # A person of another course through my course's address is not found.
    assert signed_in.get(people_url(world, f"/{world.other.enrolments[0]}")).status_code == 404


def test_person_page_shows_attendance_with_scans(signed_in, client, world):
    client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers=bearer(world.course.token))
    page = signed_in.get(people_url(world, f"/{world.course.enrolments[0]}"))
    assert page.status_code == 200
    assert "Nguyễn Thị Hương" in page.text and "Cổng A" in page.text and "camera" not in page.text.split("Attendance")[0]
    assert "checked in" in page.text and world.course.codes[0] in page.text


def test_add_person_by_hand_and_duplicate_warning(signed_in, world):
    person = {"full_name": "Phan Văn Hải", "unit": "Đoàn Thanh niên Sở Du lịch", "position": "Bí thư", "phone": "0933 444 555",
              "email": "", "member_code": ""}
    answer = signed_in.post(people_url(world, "/new"), data={**person, "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT phone FROM participants WHERE full_name = 'Phan Văn Hải'") == [("0933444555",)]
    again = signed_in.post(people_url(world, "/new"), data={**person, "full_name": "phan van hai", "csrf": csrf(signed_in)})
    assert again.status_code == 409 and 'id="duplicates"' in again.text
    assert rows(world, "SELECT COUNT(*) FROM participants WHERE name_key = 'phan van hai'") == [(1,)]
    anyway = signed_in.post(people_url(world, "/new"), data={**person, "phone": "", "full_name": "Phan Văn Hải",
                                                             "confirm_duplicate": "1", "csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert anyway.status_code == 303
    assert rows(world, "SELECT COUNT(*) FROM participants WHERE name_key = 'phan van hai'") == [(2,)]


def test_international_phone_is_read_not_taken_for_a_formula(signed_in, world):
    answer = signed_in.post(people_url(world, "/new"), data={"full_name": "Mai Anh", "unit": "Đoàn Thanh niên Sở Du lịch",
                                                             "phone": "+84 987 111 222", "csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT phone FROM participants WHERE full_name = 'Mai Anh'") == [("0987111222",)]


def test_add_person_validation_messages(signed_in, world):
    answer = signed_in.post(people_url(world, "/new"), data={"full_name": "", "unit": "=HYPERLINK()", "phone": "12",
                                                             "csrf": csrf(signed_in)})
    assert answer.status_code == 422
    for name in ("full_name", "unit", "phone"):
        assert f'id="f-{name}-error"' in answer.text


def test_reissue_and_revoke_badge_are_audited(signed_in, client, world):
    enrolment = world.course.enrolments[0]
    old = world.course.codes[0]
    signed_in.post(people_url(world, f"/{enrolment}/badge"), data={"action": "reissue", "csrf": csrf(signed_in)})
    assert rows(world, "SELECT revoked_at IS NOT NULL FROM badges WHERE code = ?", old) == [(1,)]
    assert rows(world, "SELECT COUNT(*) FROM badges WHERE enrolment_id = ? AND revoked_at IS NULL", enrolment) == [(1,)]
    refused = client.post("/api/v1/scans", json={"code": old}, headers=bearer(world.course.token)).json()
    assert refused["reason"] == "badge_revoked"
    signed_in.post(people_url(world, f"/{enrolment}/badge"), data={"action": "revoke", "csrf": csrf(signed_in)})
    assert rows(world, "SELECT COUNT(*) FROM badges WHERE enrolment_id = ? AND revoked_at IS NULL", enrolment) == [(0,)]
    assert rows(world, "SELECT action FROM audit_log WHERE subject = ? ORDER BY id", f"enrolment {enrolment}") == [
        ("badge_reissued",), ("badge_revoked",)]


def test_mark_excused_with_note_then_clear(signed_in, world):
    enrolment, session = world.course.enrolments[2], world.course.sessions[1]
    answer = signed_in.post(people_url(world, f"/{enrolment}/excuse"),
                            data={"session_id": session, "note": "Đi công tác", "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303 and "done=excused" in answer.headers["location"]
    assert rows(world, "SELECT status, note FROM attendance WHERE enrolment_id = ?", enrolment) == [("excused", "Đi công tác")]
    page = signed_in.get(answer.headers["location"])
    assert "Đi công tác" in page.text and "Marked excused." in page.text
    signed_in.post(people_url(world, f"/{enrolment}/excuse"),
                   data={"session_id": session, "action": "clear", "csrf": csrf(signed_in)})
    assert rows(world, "SELECT COUNT(*) FROM attendance WHERE enrolment_id = ?", enrolment) == [(0,)]
    # Both changes reached the live views' event log.
    assert rows(world, "SELECT kind FROM events ORDER BY id") == [("excuse",), ("excuse",)]


def test_excuse_without_reason_is_refused(signed_in, world):
    answer = signed_in.post(people_url(world, f"/{world.course.enrolments[2]}/excuse"),
                            data={"session_id": world.course.sessions[1], "note": "", "csrf": csrf(signed_in)})
    assert answer.status_code == 422
    assert f'id="note-{world.course.sessions[1]}-error"' in answer.text and "Give the reason for the excuse" in answer.text


def test_manual_checkin_goes_through_the_scan_path_and_is_audited(signed_in, world):
    enrolment = world.course.enrolments[3]
    answer = signed_in.post(people_url(world, f"/{enrolment}/checkin"), data={
        "session_id": world.course.sessions[0], "reason": "Thẻ bị mờ", "csrf": csrf(signed_in)}, follow_redirects=False)
    assert "done=checked_in" in answer.headers["location"]
    assert rows(world, "SELECT method, reason, organiser_id, note FROM scans WHERE enrolment_id = ?", enrolment) == [
        ("manual", "checked_in", 1, "Thẻ bị mờ")]
    assert rows(world, "SELECT status FROM attendance WHERE enrolment_id = ?", enrolment) == [("present",)]
    assert rows(world, "SELECT action, organiser_id FROM audit_log WHERE subject = ?", f"enrolment {enrolment}") == [
        ("manual_checkin", 1)]
    page = signed_in.get(answer.headers["location"])
    assert "manual_checkin" in page.text and "Thẻ bị mờ" in page.text


def test_manual_checkin_after_the_session_uses_the_stated_arrival_time(signed_in, world):
    world.clock.set(local(11, 0))
    enrolment, session = world.course.enrolments[3], world.course.sessions[0]
    refused = signed_in.post(people_url(world, f"/{enrolment}/checkin"), data={
        "session_id": session, "reason": "quên quét", "csrf": csrf(signed_in)}, follow_redirects=False)
    assert "done=session_closed" in refused.headers["location"]
    late = signed_in.post(people_url(world, f"/{enrolment}/checkin"), data={
        "session_id": session, "reason": "quên quét", "arrived_at": "08:15", "csrf": csrf(signed_in)}, follow_redirects=False)
    assert "done=checked_in_late" in late.headers["location"]
    assert rows(world, "SELECT status, checked_in_at FROM attendance WHERE enrolment_id = ?", enrolment) == [
        ("late", "2026-11-27T01:15:00.000000Z")]


def test_manual_checkin_without_reason_is_refused(signed_in, world):
    answer = signed_in.post(people_url(world, f"/{world.course.enrolments[3]}/checkin"), data={
        "session_id": world.course.sessions[0], "reason": "", "csrf": csrf(signed_in)})
    assert answer.status_code == 422
    assert f'id="reason-{world.course.sessions[0]}-error"' in answer.text and "Fill in this field." in answer.text
    future = signed_in.post(people_url(world, f"/{world.course.enrolments[3]}/checkin"), data={
        "session_id": world.course.sessions[0], "reason": "x", "arrived_at": "09:00", "csrf": csrf(signed_in)})
    assert future.status_code == 422 and "This time is still to come." in future.text
    assert rows(world, "SELECT COUNT(*) FROM scans") == [(0,)]


def test_undo_a_scan_removes_attendance_keeps_the_scan_and_audits(signed_in, client, world):
    scan_id = client.post("/api/v1/scans", json={"code": world.course.codes[0]}, headers=bearer(world.course.token)).json()["scan_id"]
    enrolment = world.course.enrolments[0]
    answer = signed_in.post(people_url(world, f"/{enrolment}/scans/{scan_id}/undo"),
                            data={"reason": "Quét nhầm thẻ", "csrf": csrf(signed_in)}, follow_redirects=False)
    assert "done=undone" in answer.headers["location"]
    assert rows(world, "SELECT COUNT(*) FROM attendance") == [(0,)]
    assert rows(world, "SELECT reason, organiser_id FROM scan_undos WHERE scan_id = ?", scan_id) == [("Quét nhầm thẻ", 1)]
    page = signed_in.get(answer.headers["location"])
    assert "undo_scan" in page.text and "Quét nhầm thẻ" in page.text
    # Another person's scan cannot be undone through this person's page.
    other = signed_in.post(people_url(world, f"/{world.course.enrolments[1]}/scans/{scan_id}/undo"),
                           data={"reason": "x", "csrf": csrf(signed_in)})
    assert other.status_code == 404


def test_walk_in_registers_and_checks_in_in_one_step(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/walk-in", data={
        "full_name": "Đinh Công Sơn", "unit": "Đoàn Thanh niên Sở Xây dựng", "position": "Bí thư", "phone": "",
        "session_id": str(world.course.sessions[0]), "csrf": csrf(signed_in)}, follow_redirects=False)
    assert answer.status_code == 303 and "done=checked_in" in answer.headers["location"]
    enrolment = int(answer.headers["location"].split("/people/")[1].split("?")[0])
    assert rows(world, "SELECT method, reason FROM scans WHERE enrolment_id = ?", enrolment) == [("manual", "checked_in")]
    assert rows(world, "SELECT action FROM audit_log WHERE subject = ?", f"enrolment {enrolment}") == [("walk_in",)]


def test_walk_in_substitute_records_whom_they_replace(signed_in, world):
    replaced = world.course.enrolments[1]
    form = signed_in.get(f"/courses/{world.course.id}/walk-in", params={"replaces": replaced})
    assert 'id="replaces"' in form.text and 'value="Đoàn Thanh niên Sở Y tế"' in form.text
    answer = signed_in.post(f"/courses/{world.course.id}/walk-in", data={
        "full_name": "Ngô Thị Yến", "unit": "Đoàn Thanh niên Sở Y tế", "replaces": str(replaced),
        "session_id": str(world.course.sessions[0]), "csrf": csrf(signed_in)}, follow_redirects=False)
    enrolment = int(answer.headers["location"].split("/people/")[1].split("?")[0])
    assert rows(world, "SELECT replaces_enrolment_id FROM substitutions WHERE enrolment_id = ?", enrolment) == [(replaced,)]
    page = signed_in.get(people_url(world, f"/{replaced}"))
    assert "Replaced by" in page.text and "Ngô Thị Yến" in page.text


def test_walk_in_of_someone_already_on_the_roster_warns(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/walk-in", data={
        "full_name": "Tran Van Nam", "unit": "Đoàn thanh niên Sở Y Tế", "session_id": "", "csrf": csrf(signed_in)})
    assert answer.status_code == 409 and "Trần Văn Nam" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", world.course.id) == [(4,)]


def test_walk_in_with_a_replaced_person_of_another_course_is_refused(signed_in, world):
    answer = signed_in.post(f"/courses/{world.course.id}/walk-in", data={
        "full_name": "Ngô Thị Yến", "unit": "X", "replaces": str(world.other.enrolments[0]), "session_id": "",
        "csrf": csrf(signed_in)})
    assert answer.status_code == 422


def test_audit_page_lists_corrections_and_links_the_export(signed_in, world):
    signed_in.post(people_url(world, f"/{world.course.enrolments[0]}/badge"), data={"action": "revoke", "csrf": csrf(signed_in)})
    page = signed_in.get(f"/courses/{world.course.id}/audit")
    assert page.status_code == 200 and "badge_revoked" in page.text and "Nguyễn Lan" in page.text
    assert f'href="/courses/{world.course.id}/exports/audit.csv"' in page.text


def test_correction_forms_without_csrf_are_refused(signed_in, world):
    enrolment = world.course.enrolments[0]
    for path, data in [(f"/{enrolment}/checkin", {"session_id": world.course.sessions[0], "reason": "x"}),
                       (f"/{enrolment}/badge", {"action": "revoke"}),
                       (f"/{enrolment}/excuse", {"session_id": world.course.sessions[0], "note": "x"})]:
        assert signed_in.post(people_url(world, path), data=data).status_code == 403
    assert signed_in.post(f"/courses/{world.course.id}/walk-in", data={"full_name": "A", "unit": "B"}).status_code == 403
    assert rows(world, "SELECT COUNT(*) FROM audit_log") == [(0,)]


# ---------------------------------------------------------------- the pure filter


from checkin.course.attendance import PersonAttendance  # noqa: E402
from checkin.course.people_filter import PeopleFilter, filter_people  # noqa: E402
from checkin.store.people import RosterEntry  # noqa: E402


def _person(name, unit, phone, statuses):
    return PersonAttendance(RosterEntry(1, 1, name, unit, "", phone, "", "DV7"), statuses, {})


PEOPLE = [
    _person("Nguyễn Thị Hương", "Sở Tài chính", "0912345678", {1: "present", 2: "absent"}),
    _person("Trần Văn Nam", "Sở Y tế", "0987000111", {1: "late", 2: "excused"}),
    _person("Đặng Đức Anh", "Sở Y tế", "", {1: "absent", 2: "pending"}),
]


@pytest.mark.parametrize("wanted, expected", [
    (PeopleFilter(query="huong nguyen"), ["Nguyễn Thị Hương"]),
    (PeopleFilter(query="dang duc"), ["Đặng Đức Anh"]),
    (PeopleFilter(query="  TRẦN  "), ["Trần Văn Nam"]),
    (PeopleFilter(query="0987"), ["Trần Văn Nam"]),
    (PeopleFilter(query="dv7"), ["Nguyễn Thị Hương", "Trần Văn Nam", "Đặng Đức Anh"]),
    (PeopleFilter(unit="Sở Y tế"), ["Trần Văn Nam", "Đặng Đức Anh"]),
    (PeopleFilter(session_id=1, status="present"), ["Nguyễn Thị Hương"]),
    (PeopleFilter(session_id=2, status="excused"), ["Trần Văn Nam"]),
    (PeopleFilter(status="arrived"), ["Nguyễn Thị Hương", "Trần Văn Nam"]),
    (PeopleFilter(status="none"), ["Đặng Đức Anh"]),
    (PeopleFilter(status="absent", unit="Sở Y tế"), ["Đặng Đức Anh"]),
    (PeopleFilter(query="xyz"), []),
])
def test_people_filter(wanted, expected):
    assert [p.person.full_name for p in filter_people(PEOPLE, wanted)] == expected


def test_undoing_a_check_in_over_an_excuse_brings_the_excuse_back(signed_in, client, world):
    enrolment, session = world.course.enrolments[0], world.course.sessions[0]
    signed_in.post(people_url(world, f"/{enrolment}/excuse"),
                   data={"session_id": session, "note": "Đi công tác", "csrf": csrf(signed_in)})
    # Excused, but came after all: the scan counts and the excuse waits behind it.
    scan_id = client.post("/api/v1/scans", json={"code": world.course.codes[0]},
                          headers=bearer(world.course.token)).json()["scan_id"]
    assert rows(world, "SELECT status, scan_id FROM attendance WHERE enrolment_id = ?", enrolment) == [("present", scan_id)]
    # That was the wrong badge: undone, the excuse is what counts again, with its reason.
    signed_in.post(people_url(world, f"/{enrolment}/scans/{scan_id}/undo"),
                   data={"reason": "Quét nhầm thẻ", "csrf": csrf(signed_in)})
    assert rows(world, "SELECT status, scan_id, note FROM attendance WHERE enrolment_id = ?", enrolment) == [
        ("excused", None, "Đi công tác")]
    assert "Đi công tác" in signed_in.get(people_url(world, f"/{enrolment}")).text


def test_a_cleared_excuse_does_not_come_back_after_an_undo(signed_in, client, world):
    enrolment, session = world.course.enrolments[0], world.course.sessions[0]
    signed_in.post(people_url(world, f"/{enrolment}/excuse"),
                   data={"session_id": session, "note": "Đi công tác", "csrf": csrf(signed_in)})
    signed_in.post(people_url(world, f"/{enrolment}/excuse"),
                   data={"session_id": session, "action": "clear", "csrf": csrf(signed_in)})
    scan_id = client.post("/api/v1/scans", json={"code": world.course.codes[0]},
                          headers=bearer(world.course.token)).json()["scan_id"]
    client.post(f"/api/v1/scans/{scan_id}/undo", headers=bearer(world.course.token))
    assert rows(world, "SELECT COUNT(*) FROM attendance WHERE enrolment_id = ?", enrolment) == [(0,)]
