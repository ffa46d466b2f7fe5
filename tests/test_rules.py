"""The scan rule, as a table: badge, session, earlier check-in, time -> reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from checkin.models import BadgeHolder, Checkin, CourseSession
from checkin.door.rules import SYNC_GRACE, Reason, decide_scan, device_refusal, pick_session

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)  # 8:00 in Hanoi


def session(id=1, start=T0, minutes=50, open_before=30, late_after=10, position=1):
    return CourseSession(id=id, course_id=7, position=position, title=f"S{id}", starts_at=start,
                         ends_at=start + timedelta(minutes=minutes), open_before_min=open_before,
                         late_after_min=late_after)


def badge(course_id=7, revoked=False):
    return BadgeHolder(code="c", revoked=revoked, enrolment_id=1, course_id=course_id, course_title="Other",
                       participant_id=1, full_name="Nguyễn Thị Hương", unit="Sở Tài chính", position="Bí thư")


M = lambda n: timedelta(minutes=n)  # noqa: E731
FIRST = Checkin(scan_id=11, at=T0 - M(5))


@pytest.mark.parametrize(
    "case, holder, chosen, earlier, at, after_end, expected",
    [
        ("on time, before start", badge(), session(), None, T0 - M(10), "refuse", Reason.CHECKED_IN),
        ("window opens exactly", badge(), session(), None, T0 - M(30), "refuse", Reason.CHECKED_IN),
        ("inside grace", badge(), session(), None, T0 + M(10), "refuse", Reason.CHECKED_IN),
        ("after grace", badge(), session(), None, T0 + M(10) + timedelta(seconds=1), "refuse", Reason.CHECKED_IN_LATE),
        ("before window", badge(), session(), None, T0 - M(31), "refuse", Reason.SESSION_NOT_OPEN),
        ("after end, refuse", badge(), session(), None, T0 + M(50), "refuse", Reason.SESSION_CLOSED),
        ("after end, accept late", badge(), session(), None, T0 + M(80), "late", Reason.CHECKED_IN_LATE),
        ("second scan", badge(), session(), FIRST, T0, "refuse", Reason.ALREADY_CHECKED_IN),
        ("second scan after end", badge(), session(), FIRST, T0 + M(90), "refuse", Reason.ALREADY_CHECKED_IN),
        ("unknown code", None, session(), None, T0, "refuse", Reason.UNKNOWN_CODE),
        ("unknown code, no session", None, None, None, T0, "refuse", Reason.UNKNOWN_CODE),
        ("revoked badge", badge(revoked=True), session(), None, T0, "refuse", Reason.BADGE_REVOKED),
        ("other course", badge(course_id=8), session(), None, T0, "refuse", Reason.OTHER_COURSE),
        ("other course, revoked", badge(course_id=8, revoked=True), session(), None, T0, "refuse", Reason.OTHER_COURSE),
        ("no session", badge(), None, None, T0, "refuse", Reason.NO_SESSION),
        ("session override: no grace", badge(), session(late_after=0), None, T0 + timedelta(seconds=1), "refuse",
         Reason.CHECKED_IN_LATE),
        ("session override: short window", badge(), session(open_before=5), None, T0 - M(6), "refuse",
         Reason.SESSION_NOT_OPEN),
    ],
)
def test_decide_scan(case, holder, chosen, earlier, at, after_end, expected):
    decision = decide_scan(badge=holder, course_id=7, session=chosen, earlier=earlier, at=at, after_end=after_end)
    assert decision.reason == expected, case
    assert decision.accepted == (expected in (Reason.CHECKED_IN, Reason.CHECKED_IN_LATE))


def test_already_checked_in_carries_the_first_scan():
    decision = decide_scan(badge=badge(), course_id=7, session=session(), earlier=FIRST, at=T0)
    assert decision.first == FIRST


OPENING = session(1, T0, 30)
TOPIC = session(2, T0 + M(40), 50, position=2)  # window opens at T0+10, while the opening runs
LATER = session(3, T0 + M(100), 50, position=3)


@pytest.mark.parametrize(
    "at, expected",
    [
        (T0 - M(31), None),  # nothing open yet
        (T0 - M(30), 1),  # the opening's window opens
        (T0 + M(15), 1),  # opening under way, topic's window open too: the one under way wins
        (T0 + M(35), 2),  # opening over, topic not started but open
        (T0 + M(60), 2),
        (T0 + M(89), 2),  # topic under way, the next one's window open too
        (T0 + M(95), 3),
        (T0 + M(150), None),  # all over
    ],
)
def test_pick_session(at, expected):
    picked = pick_session([OPENING, TOPIC, LATER], at)
    assert (picked.id if picked else None) == expected


@pytest.mark.parametrize("typed, expected", [
    ("12", 12), (" 7 ", 7), ("0", 0), ("", None), ("²", None), ("١٢", None), ("-3", None), ("1.5", None),
    ("9" * 16, None), (None, None), (12, None),
])
def test_whole_number_accepts_only_ascii_digits(typed, expected):
    from checkin.text import whole_number

    assert whole_number(typed) == expected


def test_a_scan_made_before_the_one_that_counts_supersedes_it():
    counted = Checkin(scan_id=12, at=T0 + M(20))  # a late scan at the other door, already stored
    decision = decide_scan(badge=badge(), course_id=7, session=session(), earlier=counted, at=T0 - M(5),
                           stated_time=True)  # an offline scan synced later states when it was made
    assert decision.reason == Reason.CHECKED_IN and decision.supersedes == counted


def test_a_live_scan_a_moment_before_the_one_written_first_is_already_checked_in():
    # Two doors (or two server instances) scan one badge at the same moment; the clocks say the second one
    # written was a millisecond earlier. Only a stated time can supersede: this one is a duplicate.
    counted = Checkin(scan_id=12, at=T0 + timedelta(milliseconds=1))
    decision = decide_scan(badge=badge(), course_id=7, session=session(), earlier=counted, at=T0)
    assert decision.reason == Reason.ALREADY_CHECKED_IN and decision.first == counted


def test_a_superseding_scan_outside_the_window_changes_nothing():
    counted = Checkin(scan_id=12, at=T0)
    decision = decide_scan(badge=badge(), course_id=7, session=session(), earlier=counted, at=T0 - M(45),
                           stated_time=True)
    assert decision.reason == Reason.SESSION_NOT_OPEN and decision.supersedes is None


EXPIRY = T0 + M(600)  # the device's pairing runs out at 18:00 in Hanoi


@pytest.mark.parametrize(
    "case, revoked, now, stated_at, grace, expected",
    [
        ("live scan before expiry", False, EXPIRY - M(1), None, SYNC_GRACE, None),
        ("live scan at expiry", False, EXPIRY, None, SYNC_GRACE, Reason.DEVICE_EXPIRED),
        ("live scan after expiry, inside the grace", False, EXPIRY + M(5), None, SYNC_GRACE, Reason.DEVICE_EXPIRED),
        ("sync before expiry", False, EXPIRY - M(1), EXPIRY - M(30), SYNC_GRACE, None),
        ("sync inside the grace, made before expiry", False, EXPIRY + M(14), EXPIRY - M(2), SYNC_GRACE, None),
        ("sync at the end of the grace", False, EXPIRY + SYNC_GRACE, EXPIRY - M(2), SYNC_GRACE,
         Reason.DEVICE_EXPIRED),
        ("sync 45 minutes after expiry, backdated", False, EXPIRY + M(45), EXPIRY - M(1), SYNC_GRACE,
         Reason.DEVICE_EXPIRED),
        ("sync a day after expiry, backdated to the morning", False, EXPIRY + M(24 * 60), T0, SYNC_GRACE,
         Reason.DEVICE_EXPIRED),
        ("sync inside the grace, made after expiry", False, EXPIRY + M(5), EXPIRY + M(1), SYNC_GRACE,
         Reason.DEVICE_EXPIRED),
        ("sync inside the grace, stated at the expiry", False, EXPIRY + M(5), EXPIRY, SYNC_GRACE,
         Reason.DEVICE_EXPIRED),
        ("no grace: sync after expiry", False, EXPIRY + timedelta(seconds=1), EXPIRY - M(1), M(0),
         Reason.DEVICE_EXPIRED),
        ("a longer grace", False, EXPIRY + M(45), EXPIRY - M(1), M(60), None),
        ("revoked, live", True, T0, None, SYNC_GRACE, Reason.DEVICE_REVOKED),
        ("revoked, sync of a scan made before", True, T0, T0 - M(30), SYNC_GRACE, Reason.DEVICE_REVOKED),
        ("revoked and expired", True, EXPIRY + M(60), None, SYNC_GRACE, Reason.DEVICE_REVOKED),
    ],
)
def test_device_refusal(case, revoked, now, stated_at, grace, expected):
    refusal = device_refusal(revoked=revoked, expires_at=EXPIRY, now=now, stated_at=stated_at, sync_grace=grace)
    assert refusal == expected, case


# --- completion wing: exit scans ("Ra về / Leaving"), time present, left_early (issue 14) --------------------

from checkin.door.rules import ACCEPTED, DEPARTED, Stay, decide_exit, left_early, pick_exit_session, time_present  # noqa: E402

IN = Stay(Checkin(scan_id=21, at=T0 - M(5)))
OUT = Stay(Checkin(scan_id=21, at=T0 - M(5)), checked_out_at=T0 + M(20))


@pytest.mark.parametrize(
    "case, holder, chosen, stay, exit_scans, expected",
    [
        ("leaving after a check-in", badge(), session(), IN, True, Reason.CHECKED_OUT),
        ("leaving before any check-in", badge(), session(), None, True, Reason.NOT_CHECKED_IN),
        ("leaving twice", badge(), session(), OUT, True, Reason.ALREADY_CHECKED_OUT),
        ("exit scans not asked for", badge(), session(), IN, False, Reason.EXIT_SCANS_OFF),
        ("unknown code", None, session(), None, True, Reason.UNKNOWN_CODE),
        ("other course", badge(course_id=8), session(), None, True, Reason.OTHER_COURSE),
        ("revoked badge", badge(revoked=True), session(), IN, True, Reason.BADGE_REVOKED),
        ("no session", badge(), None, None, True, Reason.NO_SESSION),
    ],
)
def test_decide_exit(case, holder, chosen, stay, exit_scans, expected):
    decision = decide_exit(badge=holder, course_id=7, session=chosen, stay=stay, exit_scans=exit_scans)
    assert decision.reason == expected, case
    assert decision.accepted == (expected == Reason.CHECKED_OUT)
    if expected in (Reason.CHECKED_OUT, Reason.ALREADY_CHECKED_OUT):
        assert decision.first == stay.checkin


def test_new_reason_codes_are_stable():
    # Part of the API: never renamed.
    assert [Reason.CHECKED_OUT, Reason.NOT_CHECKED_IN, Reason.ALREADY_CHECKED_OUT, Reason.EXIT_SCANS_OFF,
            Reason.OTHER_DEVICE] == ["checked_out", "not_checked_in", "already_checked_out", "exit_scans_off",
                                     "other_device"]
    assert Reason.CHECKED_OUT not in ACCEPTED and Reason.CHECKED_OUT in DEPARTED  # not a check-in


@pytest.mark.parametrize(
    "case, checked_in, checked_out, pct, minutes_present, early",
    [
        ("stayed to the end (no exit scan)", T0 - M(5), None, 75, 50, False),
        ("left at 40 of 50 minutes, 75% needed", T0 - M(5), T0 + M(40), 75, 40, False),
        ("left at 30 of 50 minutes, 75% needed", T0 - M(5), T0 + M(30), 75, 30, True),
        ("exactly 75%", T0, T0 + timedelta(minutes=37, seconds=30), 75, 37.5, False),
        ("came late at 20, left at 45", T0 + M(20), T0 + M(45), 50, 25, False),
        ("came late at 20, left at 40", T0 + M(20), T0 + M(40), 50, 20, True),
        ("left before it started", T0 - M(20), T0 - M(10), 75, 0, True),
        ("exit scan after the end", T0 - M(5), T0 + M(70), 100, 50, False),
        ("no minimum share", T0, T0 + M(1), 0, 1, False),
    ],
)
def test_time_present_and_left_early(case, checked_in, checked_out, pct, minutes_present, early):
    s = session()
    assert time_present(s, checked_in, checked_out) == timedelta(minutes=minutes_present), case
    assert left_early(s, checked_in, checked_out, pct) == early, case


@pytest.mark.parametrize(
    "case, at, stays, expected",
    [
        ("in the opening, leaving during it", T0 + M(15), {1: IN}, 1),
        ("between opening and topic: leaves the opening", T0 + M(35), {1: IN}, 1),
        ("in the topic, the opening left", T0 + M(60), {1: OUT, 2: IN}, 2),
        ("checked in nowhere: the session a check-in would pick", T0 + M(60), {}, 2),
        ("just after the last ended", T0 + M(160), {3: IN}, 3),
        ("long after everything", T0 + M(300), {3: IN}, None),
    ],
)
def test_pick_exit_session(case, at, stays, expected):
    picked = pick_exit_session([OPENING, TOPIC, LATER], at, stays)
    assert (picked.id if picked else None) == expected, case
