"""Reading the organiser's completion settings form into rules, with a clear message for each bad value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..errors import Problem
from ..models import CourseSession
from ..store.completion import CompletionRule, SessionRule
from ..text import clean, whole_number

MAX_SPEAKER = 200
MAX_STORAGE_MB = 10_000


def _percent(raw: str, name: str, *, optional: bool) -> int | None:
    raw = raw.strip()
    if optional and raw == "":
        return None
    number = whole_number(raw)
    if number is None or not 0 <= number <= 100:
        raise Problem(422, "bad_min_present_pct", "Give the minimum share of a session as a whole percent from 0 to "
                      "100.", field=name)
    return number


def parse_rule(form: Mapping[str, str], course_id: int, sessions: Sequence[CourseSession], zone: str) -> CompletionRule:
    total = len(sessions)
    raw_min = str(form.get("min_sessions", "")).strip()
    min_sessions = None
    if raw_min not in ("", "all"):
        min_sessions = whole_number(raw_min)
        if min_sessions is None or not 1 <= min_sessions <= max(total, 1):
            message = f"Give a number of sessions from 1 to {total}, or leave it empty for all of them."
            raise Problem(422, "bad_min_sessions", message, field="min_sessions")
    deadline = None
    raw_deadline = str(form.get("reflection_deadline", "")).strip()
    if raw_deadline:
        try:
            deadline = datetime.fromisoformat(raw_deadline)
        except ValueError:
            raise Problem(422, "bad_deadline", "Give the reflection deadline as a date and time.",
                          field="reflection_deadline") from None
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=ZoneInfo(zone))
        deadline = deadline.astimezone(timezone.utc)
    storage = whole_number(str(form.get("storage_limit_mb", "500")).strip())
    if storage is None or not 1 <= storage <= MAX_STORAGE_MB:
        message = f"Give the storage for uploaded reflections in MB, from 1 to {MAX_STORAGE_MB}."
        raise Problem(422, "bad_storage_limit", message, field="storage_limit_mb")
    return CompletionRule(
        course_id=course_id, exit_scans=form.get("exit_scans") == "1",
        min_present_pct=_percent(str(form.get("min_present_pct", "75")), "min_present_pct", optional=False),
        min_sessions=min_sessions, late_counts=form.get("late_counts") == "1",
        require_feedback=form.get("require_feedback") == "1", require_reflection=form.get("require_reflection") == "1",
        feedback_named=form.get("feedback_named") == "1", reflection_deadline=deadline, storage_limit_mb=storage,
    )


def parse_session_rules(form: Mapping[str, str], sessions: Sequence[CourseSession]) -> list[SessionRule]:
    result = []
    for s in sessions:
        exit_raw = str(form.get(f"exit_{s.id}", ""))
        if exit_raw not in ("", "1", "0"):
            raise Problem(422, "invalid_field", "Choose the course's setting, on or off for exit scans.",
                          field=f"exit_{s.id}")
        speaker = clean(form.get(f"speaker_{s.id}", ""))
        if len(speaker) > MAX_SPEAKER:
            raise Problem(422, "speaker_too_long", f"A speaker's name is at most {MAX_SPEAKER} characters.",
                          field=f"speaker_{s.id}")
        result.append(SessionRule(
            s.id, None if exit_raw == "" else exit_raw == "1",
            _percent(str(form.get(f"pct_{s.id}", "")), f"pct_{s.id}", optional=True), speaker,
        ))
    return result
