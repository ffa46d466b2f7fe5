"""What a unit may do with its list of cadres, and what an organiser decides about it. Each `*_tx` function runs
in the caller's write transaction, decides on what it reads there (the unit's row locked on PostgreSQL), and
raises Problem (nothing written) when the request breaks a rule: quota, deadline, a duplicate person, a
substitution for someone already checked in. Every change is audited with who made it.

Before the unit confirms, its cadres are drafts (no enrolment). Confirming enrols them through people.enrol
(each gets a badge). A confirmed cadre is never removed: the unit replaces them ("thay người"); before the
deadline the replacement takes effect at once, after it the organiser approves or refuses it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..errors import Problem
from ..store import courses, participants, people, scans, units
from ..store.audit import enrolment_subject
from ..store.people import PersonDetails
from ..store.units import Nominee, SummonedUnit

ACTIVE = ("draft", "enrolled")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: an organiser (their id), or the unit through its link."""

    organiser_id: int | None
    unit_name: str = ""

    @property
    def label(self) -> str:
        return "" if self.organiser_id is not None else f"unit link: {self.unit_name}"


def _audit(conn, course_id: int, action: str, now: datetime, actor: Actor, subject: str, detail: str) -> None:
    by = actor.label
    scans.insert_audit(conn, course_id, action, now, organiser_id=actor.organiser_id, subject=subject,
                       detail=f"{detail} ({by})" if by else detail)


def unit_subject(summoned_id: int) -> str:
    return f"unit {summoned_id}"


def _subject(nominee: Nominee) -> str:
    return enrolment_subject(nominee.enrolment_id) if nominee.enrolment_id else f"nominee {nominee.id}"


def after_deadline(conn: sqlite3.Connection, course_id: int, now: datetime) -> bool:
    deadline = units.get_summons(conn, course_id).deadline
    return deadline is not None and now >= deadline


def _unit(conn: sqlite3.Connection, course_id: int, summoned_id: int) -> SummonedUnit:
    summoned = units.get_summoned_unit(conn, course_id, summoned_id, lock=True)
    if summoned is None or summoned.withdrawn:
        raise Problem(404, "unit_not_invited", "This unit is not invited to this course.")
    return summoned


def _before_deadline(conn, course_id: int, now: datetime) -> None:
    if after_deadline(conn, course_id, now):
        raise Problem(409, "deadline_passed", "The nomination deadline has passed. To change someone, propose a "
                                              "substitution: the organisers approve or refuse it.")


def check_duplicate(conn: sqlite3.Connection, course_id: int, summoned_id: int, person: PersonDetails,
                    ignore_nominee: int | None = None) -> None:
    """Refuse a person whose phone or member code is already on the course: in another unit (duplicate_person)
    or on this unit's own list (already_nominated). Phones are compared as stored (normalised by forms.read_person
    and by the roster import alike); member codes ignoring case."""
    phone, code = person.phone.strip(), person.member_code.strip().lower()
    if not phone and not code:
        return
    # Two units nominating the same person at the same moment (PostgreSQL, several instances) are decided one
    # after the other: the course's row stays locked to the commit (dialect.py). SQLite has one writer anyway.
    courses.lock_course(conn, course_id)
    same = "((? <> '' AND {p} = ?) OR (? <> '' AND {c} <> '' AND LOWER({c}) = ?))"
    args = (phone, phone, code, code)
    for nominee_unit, in conn.execute(
            "SELECT n.summoned_unit_id FROM nominees n JOIN summoned_units s ON s.id = n.summoned_unit_id"
            " WHERE s.course_id = ? AND n.state IN ('draft', 'enrolled') AND n.id <> ? AND "
            + same.format(p="n.phone", c="n.member_code"), (course_id, ignore_nominee or 0, *args)).fetchall():
        if nominee_unit == summoned_id:
            raise Problem(409, "already_nominated", "This person (same phone or member code) is already on your list.")
        raise Problem(409, "duplicate_person", "A person with this phone number or member code is already nominated "
                                               "by another unit for this course. Check the details, or call the "
                                               "organisers.")
    # Someone on the course's roster who is nobody's nominee (typed or imported by the organisers).
    if conn.execute(
            "SELECT 1 FROM enrolments e JOIN participants p ON p.id = e.participant_id WHERE e.course_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM nominees n WHERE n.enrolment_id = e.id) AND "
            + same.format(p="p.phone", c="p.member_code") + " LIMIT 1", (course_id, *args)).fetchone():
        raise Problem(409, "duplicate_person", "A person with this phone number or member code is already on "
                                               "this course's list. Check the details, or call the organisers.")


def _quota_left(conn, summoned: SummonedUnit) -> int:
    active = [n for n in units.list_nominees(conn, summoned.id) if n.state in ACTIVE]
    return summoned.quota - len(active)


def quota_problem(quota: int) -> Problem:
    return Problem(409, "quota_exceeded", "Your unit's list is full: it has as many cadres as the organisers asked "
                                          "for. Remove or replace someone before adding another.")


def add_nominees_tx(conn: sqlite3.Connection, course_id: int, summoned_id: int, persons: list[PersonDetails],
                    actor: Actor, now: datetime) -> list[int]:
    """Add cadres to the unit's list as drafts (all of them, or none)."""
    summoned = _unit(conn, course_id, summoned_id)
    _before_deadline(conn, course_id, now)
    if len(persons) > _quota_left(conn, summoned):
        raise quota_problem(summoned.quota)
    ids = []
    for person in persons:
        check_duplicate(conn, course_id, summoned_id, person)
        ids.append(units.insert_nominee(conn, summoned_id, person, now))
        _audit(conn, course_id, "nominee_added", now, actor, f"nominee {ids[-1]}", person.full_name)
    units.mark_changed(conn, summoned_id, now, confirmed=False)
    return ids


def _nominee(conn, summoned_id: int, nominee_id: int) -> Nominee:
    nominee = units.get_nominee(conn, summoned_id, nominee_id)
    if nominee is None or nominee.state not in ACTIVE:
        raise Problem(404, "nominee_not_found", "This person is not on your unit's list.")
    return nominee


def edit_nominee_tx(conn: sqlite3.Connection, course_id: int, summoned_id: int, nominee_id: int,
                    person: PersonDetails, actor: Actor, now: datetime) -> None:
    summoned = _unit(conn, course_id, summoned_id)
    _before_deadline(conn, course_id, now)
    nominee = _nominee(conn, summoned_id, nominee_id)
    check_duplicate(conn, course_id, summoned_id, person, ignore_nominee=nominee_id)
    units.update_nominee(conn, nominee_id, person, now)
    if nominee.enrolment_id:
        participant_id = people.get_enrolment_badge_holder(conn, nominee.enrolment_id).participant_id
        people.update_participant(conn, participant_id, PersonDetails(
            person.full_name, summoned.name, person.position, person.phone, person.email, person.member_code), now)
    _audit(conn, course_id, "nominee_updated", now, actor, _subject(nominee), person.full_name)
    units.mark_changed(conn, summoned_id, now)


def remove_nominee_tx(conn: sqlite3.Connection, course_id: int, summoned_id: int, nominee_id: int, actor: Actor,
                      now: datetime) -> None:
    _unit(conn, course_id, summoned_id)
    _before_deadline(conn, course_id, now)
    nominee = _nominee(conn, summoned_id, nominee_id)
    if nominee.state != "draft":
        raise Problem(409, "nominee_confirmed", "This person is already confirmed and has a badge: replace them "
                                                "with a substitution instead.")
    units.delete_draft(conn, nominee_id)
    _audit(conn, course_id, "nominee_removed", now, actor, f"nominee {nominee_id}", nominee.full_name)
    units.mark_changed(conn, summoned_id, now, confirmed=False)


def _enrol(conn, course_id: int, summoned: SummonedUnit, nominee: Nominee, now: datetime) -> int:
    participant_id = people.insert_participant(conn, PersonDetails(
        nominee.full_name, summoned.name, nominee.position, nominee.phone, nominee.email, nominee.member_code), now)
    enrolment_id = people.enrol(conn, course_id, participant_id, now)
    units.set_nominee_state(conn, nominee.id, "enrolled", enrolment_id, now)
    return enrolment_id


def confirm_tx(conn: sqlite3.Connection, course_id: int, summoned_id: int, actor: Actor, now: datetime) -> int:
    """The unit confirms its list: every draft is enrolled with a badge. Returns how many were enrolled."""
    summoned = _unit(conn, course_id, summoned_id)
    _before_deadline(conn, course_id, now)
    nominees = [n for n in units.list_nominees(conn, summoned_id) if n.state in ACTIVE]
    if not nominees:
        raise Problem(422, "nothing_to_confirm", "Add at least one cadre before confirming the list.")
    if len(nominees) > summoned.quota:
        raise quota_problem(summoned.quota)
    enrolled = 0
    for nominee in nominees:
        if nominee.state == "draft":
            enrolment_id = _enrol(conn, course_id, summoned, nominee, now)
            _audit(conn, course_id, "nominee_enrolled", now, actor, enrolment_subject(enrolment_id), nominee.full_name)
            enrolled += 1
    if summoned.leader_nominee_id is None:  # the first on the list leads the unit (group check-in) unless changed
        units.set_leader(conn, summoned_id, nominees[0].id)
    _audit(conn, course_id, "nominations_confirmed", now, actor, unit_subject(summoned_id),
           f"{summoned.name}: {len(nominees)}/{summoned.quota}")
    units.mark_changed(conn, summoned_id, now, confirmed=True)
    return enrolled


def _checked_in(conn, enrolment_id: int) -> bool:
    return any(r.status in ("present", "late") for r in people.list_enrolment_attendance(conn, enrolment_id))


def propose_substitution_tx(conn: sqlite3.Connection, course_id: int, summoned_id: int, nominee_id: int,
                            person: PersonDetails, reason: str, actor: Actor, now: datetime) -> str:
    """The unit replaces a confirmed cadre. Before the deadline it takes effect at once ("approved"); after it,
    it waits for an organiser ("proposed"). Returns the state."""
    summoned = _unit(conn, course_id, summoned_id)
    nominee = _nominee(conn, summoned_id, nominee_id)
    if nominee.state != "enrolled":
        raise Problem(409, "nominee_not_confirmed", "This person is not confirmed yet: edit or remove them instead.")
    if _checked_in(conn, nominee.enrolment_id):
        raise Problem(409, "already_checked_in", "This person has already checked in at the course: they cannot be "
                                                 "replaced any more.")
    if units.has_open_substitution(conn, nominee_id):
        raise Problem(409, "substitution_pending", "A substitution for this person is already waiting for the "
                                                  "organisers' decision.")
    check_duplicate(conn, course_id, summoned_id, person)
    substitution_id = units.insert_substitution(conn, summoned_id, nominee_id, person, reason, now)
    _audit(conn, course_id, "substitution_proposed", now, actor, enrolment_subject(nominee.enrolment_id),
           f"{nominee.full_name} → {person.full_name}: {reason}")
    units.mark_changed(conn, summoned_id, now)
    if after_deadline(conn, course_id, now):
        return "proposed"
    _apply(conn, course_id, summoned, substitution_id, actor, now)
    return "approved"


def _apply(conn, course_id: int, summoned: SummonedUnit, substitution_id: int, actor: Actor, now: datetime) -> int:
    sub = units.get_substitution(conn, course_id, substitution_id)
    old = units.get_nominee(conn, summoned.id, sub.old_nominee_id)
    if _checked_in(conn, old.enrolment_id):
        raise Problem(409, "already_checked_in", "This person has already checked in at the course: they cannot be "
                                                 "replaced any more.")
    new_id = units.insert_nominee(conn, summoned.id, PersonDetails(
        sub.full_name, summoned.name, sub.position, sub.phone, sub.email, sub.member_code), now)
    new = units.get_nominee(conn, summoned.id, new_id)
    enrolment_id = _enrol(conn, course_id, summoned, new, now)
    people.revoke_badge(conn, old.enrolment_id, now)
    units.set_nominee_state(conn, old.id, "replaced", old.enrolment_id, now)
    participants.insert_substitution(conn, enrolment_id, old.enrolment_id, now)
    units.decide_substitution(conn, substitution_id, "approved", new_id, actor.organiser_id, "", now)
    if summoned.leader_nominee_id == old.id:
        units.set_leader(conn, summoned.id, new_id)
    detail = f"{old.full_name} → {new.full_name}: {sub.reason}"
    _audit(conn, course_id, "substitution_approved", now, actor, enrolment_subject(old.enrolment_id), detail)
    _audit(conn, course_id, "substitution_approved", now, actor, enrolment_subject(enrolment_id), detail)
    return enrolment_id


def decide_substitution_tx(conn: sqlite3.Connection, course_id: int, substitution_id: int, approve: bool, note: str,
                           organiser_id: int, now: datetime) -> None:
    """An organiser approves (the new person is enrolled with a badge, the old badge revoked) or refuses."""
    sub = units.get_substitution(conn, course_id, substitution_id, lock=True)
    if sub is None:
        raise Problem(404, "substitution_not_found", "There is no such substitution on this course.")
    if sub.state != "proposed":
        raise Problem(409, "substitution_decided", "This substitution was already decided.")
    summoned = units.get_summoned_unit(conn, course_id, sub.summoned_unit_id, lock=True)
    actor = Actor(organiser_id)
    if approve:
        _apply(conn, course_id, summoned, substitution_id, actor, now)
    else:
        units.decide_substitution(conn, substitution_id, "refused", None, organiser_id, note, now)
        old = units.get_nominee(conn, summoned.id, sub.old_nominee_id)
        _audit(conn, course_id, "substitution_refused", now, actor, enrolment_subject(old.enrolment_id),
               f"{sub.old_name} → {sub.full_name}: {note}")
    units.mark_changed(conn, summoned.id, now)
