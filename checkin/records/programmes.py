"""Programmes and their requirements, with the rules on bad input: each change one transaction, audited;
a refused change changes nothing."""

from __future__ import annotations

import sqlite3

from ..errors import Problem
from ..store import programmes, scans
from ..text import clean
from .merging import Actor


def programme_subject(programme_id: int) -> str:
    return f"programme {programme_id}"


def _body_courses(conn: sqlite3.Connection, body_id: int, course_ids: list[int]) -> list[int]:
    known = {c.id for c in programmes.list_body_courses(conn, body_id)}
    if any(c not in known for c in course_ids):
        raise Problem(422, "course_of_another_body",
                      "A programme holds courses of its own organising body only: choose among the courses listed.")
    return sorted(set(course_ids))


def _programme(conn: sqlite3.Connection, body_id: int, programme_id: int) -> programmes.Programme:
    found = programmes.get_programme(conn, programme_id)
    if found is None or found.body_id != body_id:
        raise Problem(404, "programme_not_found", "There is no such programme in this organising body.")
    return found


def create_programme_tx(conn: sqlite3.Connection, who: Actor, body_id: int, title: str, course_ids: list[int]) -> int:
    title = clean(title)[:200]
    if not title:
        raise Problem(422, "title_required", "Give the programme a title, such as “Nhiệm kỳ 2022–2027”.")
    courses = _body_courses(conn, body_id, course_ids)
    programme_id = programmes.insert_programme(conn, body_id, title, who.now)
    if programme_id is None:
        raise Problem(409, "programme_exists", "This organising body has a programme of that title already.")
    programmes.set_programme_courses(conn, programme_id, courses)
    scans.insert_audit(conn, None, "programme_create", who.now, organiser_id=who.organiser_id,
                       subject=programme_subject(programme_id), detail=f"{title}: courses {courses}")
    return programme_id


def set_courses_tx(conn: sqlite3.Connection, who: Actor, body_id: int, programme_id: int, course_ids: list[int]) -> None:
    found = _programme(conn, body_id, programme_id)
    courses = _body_courses(conn, body_id, course_ids)
    needed = {c for r in found.requirements for c in r.course_ids}
    if needed - set(courses):
        raise Problem(409, "course_in_requirement",
                      "A requirement names a course you are taking out of the programme: delete the requirement first.")
    programmes.set_programme_courses(conn, programme_id, courses)
    scans.insert_audit(conn, None, "programme_courses", who.now, organiser_id=who.organiser_id,
                       subject=programme_subject(programme_id), detail=f"courses {courses}")


def add_requirement_tx(conn: sqlite3.Connection, who: Actor, body_id: int, programme_id: int, label: str,
                       positions: list[str], minimum: int | None, course_ids: list[int]) -> int:
    """"Every <position> completes <course>" is minimum 1 of one course; "at least N of these courses" is N of
    several. Refused: no course, a course outside the programme, N of none or more than the courses named."""
    found = _programme(conn, body_id, programme_id)
    if not course_ids:
        raise Problem(422, "courses_required", "Choose the course (or courses) the requirement is about.")
    if set(course_ids) - set(found.course_ids):
        raise Problem(422, "course_not_in_programme",
                      "A requirement can name only courses of its programme: add the course to the programme first.")
    courses = sorted(set(course_ids))
    minimum = 1 if minimum is None else minimum
    if not 1 <= minimum <= len(courses):
        raise Problem(422, "minimum_out_of_range",
                      "“At least N of these courses” needs N between 1 and the number of courses chosen.")
    positions = [clean(p)[:100] for p in positions if clean(p)][:20]
    label = clean(label)[:200] or (", ".join(positions) or "—")
    requirement_id = programmes.insert_requirement(conn, programme_id, label, positions, minimum, courses, who.now)
    scans.insert_audit(conn, None, "requirement_add", who.now, organiser_id=who.organiser_id,
                       subject=programme_subject(programme_id),
                       detail=f"{label}: {minimum} of {courses} for {positions or 'every cadre'}")
    return requirement_id


def delete_requirement_tx(conn: sqlite3.Connection, who: Actor, body_id: int, programme_id: int,
                          requirement_id: int) -> None:
    _programme(conn, body_id, programme_id)
    if not programmes.delete_requirement(conn, programme_id, requirement_id):
        raise Problem(404, "requirement_not_found", "There is no such requirement in this programme.")
    scans.insert_audit(conn, None, "requirement_delete", who.now, organiser_id=who.organiser_id,
                       subject=programme_subject(programme_id), detail=f"requirement {requirement_id}")
