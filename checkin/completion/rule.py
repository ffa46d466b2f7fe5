"""Pure: the course's completion rule applied to each person — at least N of M sessions present (late counts
unless the course says otherwise; left_early and excused do not), and optionally feedback given for each
session counted and the reflection accepted. What a person still lacks is said, not just that they fail."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..course.attendance import PersonAttendance
from ..models import CourseSession
from ..store.completion import CompletionRule
from ..store.people import RosterEntry

NO_REFLECTION = "none"


def required_sessions(rule: CompletionRule, total: int) -> int:
    """N of "at least N of the M sessions": the course's setting, or all of them."""
    if rule.min_sessions is None:
        return total
    return max(1, min(rule.min_sessions, total))


def counts_as_present(rule: CompletionRule, status: str) -> bool:
    return status == "present" or (status == "late" and rule.late_counts)


@dataclass(frozen=True, slots=True)
class PersonCompletion:
    person: RosterEntry
    counted: tuple[int, ...]  # ids of the sessions that count
    required: int
    total: int
    feedback_missing: tuple[int, ...]  # sessions counted without feedback (only when feedback is required)
    reflection: str | None  # its state when a reflection is required (none, draft, submitted, returned, accepted)

    @property
    def sessions_missing(self) -> int:
        return max(0, self.required - len(self.counted))

    @property
    def reflection_missing(self) -> bool:
        return self.reflection is not None and self.reflection != "accepted"

    @property
    def complete(self) -> bool:
        return (self.total > 0 and not self.sessions_missing and not self.feedback_missing
                and not self.reflection_missing)


def evaluate(
    rule: CompletionRule, sessions: Sequence[CourseSession], people: Iterable[PersonAttendance],
    feedback_given: set[tuple[int, int]], reflections: Mapping[int, str],
) -> list[PersonCompletion]:
    """Each person's standing; feedback_given holds (enrolment id, session id), reflections enrolment id -> state."""
    total = len(sessions)
    required = required_sessions(rule, total)
    result = []
    for p in people:
        enrolment_id = p.person.enrolment_id
        counted = tuple(s.id for s in sessions if counts_as_present(rule, p.statuses.get(s.id, "")))
        missing_feedback = ()
        if rule.require_feedback:
            missing_feedback = tuple(sid for sid in counted if (enrolment_id, sid) not in feedback_given)
        reflection = reflections.get(enrolment_id, NO_REFLECTION) if rule.require_reflection else None
        result.append(PersonCompletion(p.person, counted, required, total, missing_feedback, reflection))
    return result
