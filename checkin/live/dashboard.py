"""What the big screen shows, computed from a live state: the session on screen, its counts, unit bars,
latest arrivals and arrivals per minute. Pure: the time comes in as an argument."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..door import rules
from ..models import Course, CourseSession
from ..door.scanning import iso
from ..store.reports import LiveState

RECENT = 15


def shown_session(sessions: Sequence[CourseSession], now: datetime) -> CourseSession | None:
    """The session whose door is open now; between sessions the next one; after the last, the last."""
    current = rules.pick_session(sessions, now)
    if current is not None:
        return current
    upcoming = [s for s in sessions if s.starts_at > now]
    if upcoming:
        return min(upcoming, key=lambda s: (s.starts_at, s.position))
    return max(sessions, key=lambda s: (s.starts_at, s.position)) if sessions else None


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def snapshot(course: Course, state: LiveState, now: datetime) -> dict:
    """The dashboard's initial state as JSON-ready data; the event stream then resumes after last_event_id."""
    session = shown_session(state.sessions, now)
    # The next moment the shown session or its statuses change by the clock alone (a door opens, a
    # session starts or ends): the page fetches a new snapshot then. Between those, events keep it right.
    moments = [m for s in state.sessions for m in (s.opens_at, s.starts_at, s.ends_at) if m > now]
    data: dict = {
        "refresh_at": iso(min(moments)) if moments else None,
        "course": {"id": course.id, "title": course.title, "date": course.course_date.isoformat(),
                   "time_zone": course.time_zone},
        "now": iso(now),
        "last_event_id": state.last_event_id,
        "enrolled": len(state.roster),
        # A check-in of someone not in this list (a walk-in registered since) makes the page reload the snapshot.
        "enrolment_ids": [p.enrolment_id for p in state.roster],
        "session": None,
        "counts": {"present": 0, "late": 0, "excused": 0, "not_arrived": len(state.roster)},
        "units": [],
        "recent": [],
        "chart": {"start": None, "minutes": 0, "counts": []},
    }
    if session is None:
        return data
    data["session"] = {
        "id": session.id, "title": session.title, "starts_at": iso(session.starts_at),
        "ends_at": iso(session.ends_at), "opens_at": iso(session.opens_at), "late_from": iso(session.late_from),
        "over": now >= session.ends_at, "under_way": session.starts_at <= now < session.ends_at,
    }
    rows = {r.enrolment_id: r for r in state.attendance if r.session_id == session.id}
    counts = Counter(r.status for r in rows.values())
    arrived = counts["present"] + counts["late"] + counts["left_early"]
    data["counts"] = {
        "present": counts["present"], "late": counts["late"], "excused": counts["excused"],
        "not_arrived": len(state.roster) - arrived - counts["excused"],
        # Exit scans only: without them the snapshot is as it always was.
        **({"left_early": counts["left_early"]} if counts["left_early"] else {}),
    }

    units: dict[str, dict] = {}
    for person in state.roster:
        unit = units.setdefault(person.unit, {"unit": person.unit, "enrolled": 0, "arrived": 0, "excused": 0})
        unit["enrolled"] += 1
        row = rows.get(person.enrolment_id)
        if row is not None:
            unit["arrived" if row.status in ("present", "late", "left_early") else "excused"] += 1
    data["units"] = sort_units(units.values())

    people = {p.enrolment_id: p for p in state.roster}
    arrivals = sorted(
        (r for r in rows.values() if r.status in ("present", "late", "left_early") and r.checked_in_at is not None),
        key=lambda r: r.checked_in_at,
    )
    data["recent"] = [
        {"name": people[r.enrolment_id].full_name, "unit": people[r.enrolment_id].unit, "status": r.status,
         "at": iso(r.checked_in_at)}
        for r in reversed(arrivals[-RECENT:]) if r.enrolment_id in people
    ]

    start = _minute(session.opens_at)
    minutes = max(1, int((session.ends_at - start) / timedelta(minutes=1)) + 1)
    per_minute = [0] * minutes
    for r in arrivals:
        index = int((_minute(r.checked_in_at) - start) / timedelta(minutes=1))
        per_minute[min(max(index, 0), minutes - 1)] += 1
    data["chart"] = {"start": iso(start), "minutes": minutes, "counts": per_minute}
    return data


def sort_units(units) -> list[dict]:
    """Units still missing people first (the largest share missing on top), complete units last."""
    def key(u: dict):
        missing = u["enrolled"] - u["arrived"] - u["excused"]
        return (missing == 0, -(missing / u["enrolled"]) if u["enrolled"] else 0, -missing, u["unit"])

    return sorted(units, key=key)
