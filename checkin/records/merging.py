"""Merging two records of one person and splitting a wrong merge (exact inverses), deciding proposals, and
erasing a person on request: each one transaction that writes the audit trail."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from ..clock import to_db
from ..errors import Problem
from ..store import imports, persons, scans
from ..store.dialect import for_update
from ..store.persons import Person


def person_subject(person_id: int) -> str:
    """The subject under which changes to a person's record are audited (course_id NULL: the body's)."""
    return f"person {person_id}"


@dataclass(frozen=True, slots=True)
class Actor:
    organiser_id: int | None
    now: datetime


def _standing(conn: sqlite3.Connection, body_id: int, person_id: int) -> Person:
    # The body's people change one transaction at a time (store/persons.link_participant takes the same lock).
    conn.execute("SELECT id FROM bodies WHERE id = ?" + for_update(conn), (body_id,)).fetchall()
    person = persons.get_person(conn, person_id)
    if person is None or person.body_id != body_id:
        raise Problem(404, "person_not_found", "There is no such person in this organising body's records.")
    if person.merged_into is not None:
        raise Problem(409, "person_merged",
                      "This record was merged into another one; open that one instead.")
    if person.erased_at is not None:
        raise Problem(409, "person_erased", "This record was erased on request; it cannot be merged.")
    return person


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())[:500]
    if not reason:
        raise Problem(422, "reason_required", "Say why, in a few words: the reason goes into the audit trail.")
    return reason


def shared_courses(conn: sqlite3.Connection, a: int, b: int) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT c.title FROM participants pa JOIN enrolments ea ON ea.participant_id = pa.id"
        " JOIN enrolments eb ON eb.course_id = ea.course_id JOIN participants pb ON pb.id = eb.participant_id"
        " JOIN courses c ON c.id = ea.course_id WHERE pa.person_id = ? AND pb.person_id = ? ORDER BY c.title", (a, b))
    return [r[0] for r in rows]


def merge_tx(conn: sqlite3.Connection, who: Actor, body_id: int, kept_id: int, merged_id: int, reason: str,
             proposal_id: int | None = None) -> int:
    """Move every course of `merged_id` to `kept_id`; `merged_id` stays, pointing at `kept_id`, so that a split
    puts everything back. Refused, changing nothing: the same record twice, a record of another body, merged
    or erased, or two records on one course. Returns the merge's id."""
    reason = _reason(reason)
    if kept_id == merged_id:
        raise Problem(422, "same_person", "Choose two different records to merge.")
    _standing(conn, body_id, kept_id)
    _standing(conn, body_id, merged_id)
    shared = shared_courses(conn, kept_id, merged_id)
    if shared:
        raise Problem(409, "same_course",
                      "Both records are on the same course, and one person cannot be on a course twice: these are two "
                      "people, or one enrolment is a duplicate to remove from that course first.")
    moved = [r[0] for r in conn.execute("SELECT id FROM participants WHERE person_id = ? ORDER BY id", (merged_id,))]
    touched = [
        [r[0], r[1]] for r in conn.execute(
            "SELECT id, status FROM person_proposals WHERE status = 'open' AND ((person_id = ? AND other_id = ?)"
            " OR (person_id = ? AND other_id = ?)) ORDER BY id", (kept_id, merged_id, merged_id, kept_id))]
    conn.execute("UPDATE participants SET person_id = ? WHERE person_id = ?", (kept_id, merged_id))
    conn.execute("UPDATE people SET merged_into = ? WHERE id = ?", (kept_id, merged_id))
    for pid, _status in touched:
        persons.decide_proposal(conn, pid, "confirmed" if pid == proposal_id else "merged", who.organiser_id, who.now)
    persons.refresh_person(conn, kept_id)
    merge_id = conn.execute(
        "INSERT INTO person_merges (body_id, kept_id, merged_id, participant_ids, proposals, reason, organiser_id,"
        " merged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (body_id, kept_id, merged_id, json.dumps(moved), json.dumps(touched), reason, who.organiser_id,
         to_db(who.now))).fetchone()[0]
    scans.insert_audit(conn, None, "person_merge", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(kept_id),
                       detail=f"merge {merge_id}: record {merged_id} merged into {kept_id} ({len(moved)} course"
                              f" enrolments). {reason}")
    return merge_id


def split_tx(conn: sqlite3.Connection, who: Actor, body_id: int, merge_id: int, reason: str) -> int:
    """Undo a merge exactly: its participants back to the merged record, the record standing again, the
    proposals it decided open again. A later merge of either record must be split first. Returns the person
    split off."""
    reason = _reason(reason)
    conn.execute("SELECT id FROM bodies WHERE id = ?" + for_update(conn), (body_id,)).fetchall()
    row = conn.execute("SELECT body_id, kept_id, merged_id, participant_ids, proposals, split_at FROM person_merges"
                       " WHERE id = ?", (merge_id,)).fetchone()
    if row is None or row[0] != body_id:
        raise Problem(404, "merge_not_found", "There is no such merge in this organising body's records.")
    if row[5] is not None:
        raise Problem(409, "already_split", "This merge was split already.")
    kept_id, merged_id = row[1], row[2]
    later = conn.execute(
        "SELECT id FROM person_merges WHERE id > ? AND split_at IS NULL AND (kept_id IN (?, ?) OR merged_id IN (?, ?))"
        " ORDER BY id DESC LIMIT 1", (merge_id, kept_id, merged_id, kept_id, merged_id)).fetchone()
    if later is not None:
        raise Problem(409, "later_merge",
                      "One of these records was merged again after this merge: split the later merge first.")
    kept = persons.get_person(conn, kept_id)
    if kept is not None and kept.erased_at is not None:
        raise Problem(409, "person_erased", "This record was erased on request; it cannot be split.")
    moved = json.loads(row[3])
    for start in range(0, len(moved), 500):
        part = moved[start:start + 500]
        conn.execute(f"UPDATE participants SET person_id = ? WHERE person_id = ? AND id IN ({', '.join('?' * len(part))})",
                     (merged_id, kept_id, *part))
    conn.execute("UPDATE people SET merged_into = NULL WHERE id = ?", (merged_id,))
    for pid, status in json.loads(row[4]):
        conn.execute("UPDATE person_proposals SET status = ?, decided_at = NULL, organiser_id = NULL WHERE id = ?",
                     (status, pid))
    persons.refresh_person(conn, kept_id)
    persons.refresh_person(conn, merged_id)
    conn.execute("UPDATE person_merges SET split_at = ?, split_reason = ?, split_by = ? WHERE id = ?",
                 (to_db(who.now), reason, who.organiser_id, merge_id))
    scans.insert_audit(conn, None, "person_split", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(kept_id),
                       detail=f"merge {merge_id} split: record {merged_id} stands again ({len(moved)} course"
                              f" enrolments back). {reason}")
    return merged_id


def confirm_tx(conn: sqlite3.Connection, who: Actor, body_id: int, proposal_id: int, reason: str) -> int:
    """Confirm a proposal: the newer record merged into the older one. Returns the merge's id."""
    proposal = persons.get_proposal(conn, proposal_id)
    if proposal is None or proposal[0] != body_id:
        raise Problem(404, "proposal_not_found", "There is no such proposal in this organising body's records.")
    if proposal[3] != "open":
        raise Problem(409, "proposal_decided", "This proposal was decided already.")
    return merge_tx(conn, who, body_id, proposal[2], proposal[1], reason or "confirmed proposal", proposal_id)


def reject_tx(conn: sqlite3.Connection, who: Actor, body_id: int, proposal_id: int) -> None:
    """Reject a proposal: two different people, never proposed again as a pair."""
    proposal = persons.get_proposal(conn, proposal_id)
    if proposal is None or proposal[0] != body_id:
        raise Problem(404, "proposal_not_found", "There is no such proposal in this organising body's records.")
    if proposal[3] != "open":
        raise Problem(409, "proposal_decided", "This proposal was decided already.")
    persons.decide_proposal(conn, proposal_id, "rejected", who.organiser_id, who.now)
    scans.insert_audit(conn, None, "proposal_reject", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(proposal[1]),
                       detail=f"proposal {proposal_id}: records {proposal[1]} and {proposal[2]} are two people")


def erase_tx(conn: sqlite3.Connection, who: Actor, body_id: int, person_id: int, reason: str) -> int:
    """Erase a person on request: their name and contacts gone from every course (and from the names printed on
    their certificates); enrolments, attendance, certificates' codes, units and positions kept, so the counts
    of past reports do not change. Roster uploads of the body's courses still waiting to be confirmed are
    discarded: the person may be in one. Returns how many course records were erased."""
    reason = _reason(reason)
    _standing(conn, body_id, person_id)
    rows = conn.execute(
        "SELECT id, full_name FROM participants WHERE person_id = ? OR person_id IN"
        " (SELECT id FROM people WHERE merged_into = ?)", (person_id, person_id)).fetchall()
    ids = [r[0] for r in rows]
    names = sorted({r[1] for r in rows if len(r[1]) >= 3}, key=len, reverse=True)  # longer first: "Văn An" in "Văn Anh"
    _erase_elsewhere(conn, ids, names)
    for pid in ids:
        conn.execute("UPDATE participants SET full_name = '', name_key = '', phone = '', email = '', member_code = '',"
                     " updated_at = ? WHERE id = ?", (to_db(who.now), pid))
        conn.execute("UPDATE certificates SET full_name = '' WHERE enrolment_id IN"
                     " (SELECT id FROM enrolments WHERE participant_id = ?)", (pid,))
        conn.execute("UPDATE badge_mailings SET email = '' WHERE enrolment_id IN"
                     " (SELECT id FROM enrolments WHERE participant_id = ?)", (pid,))
    conn.execute("UPDATE people SET erased_at = ? WHERE id = ?", (to_db(who.now), person_id))
    persons.refresh_person(conn, person_id)
    conn.execute("UPDATE person_proposals SET status = 'rejected', decided_at = ? WHERE status = 'open'"
                 " AND (person_id = ? OR other_id = ?)", (to_db(who.now), person_id, person_id))
    discarded = imports.discard_pending_imports_of_body(conn, body_id)
    uploads = f" {discarded} roster upload(s) waiting to be confirmed discarded." if discarded else ""
    scans.insert_audit(conn, None, "person_erase", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(person_id),
                       detail=f"record {person_id} erased on request ({len(ids)} course records).{uploads} {reason}")
    return len(ids)


def _erase_elsewhere(conn: sqlite3.Connection, participant_ids: list[int], names: list[str]) -> None:
    """The person's name and contacts where they were copied: the units' nominations of them (and the
    substitution that brought them in), and the texts of the audit log of their courses (a walk-in, a change of
    details, a nomination), where each of their names becomes "(erased)". The log's entries stay."""
    for pid in participant_ids:
        enrolments = "(SELECT id FROM enrolments WHERE participant_id = ?)"
        conn.execute("UPDATE unit_substitutions SET full_name = '', phone = '', email = '', member_code = ''"
                     f" WHERE new_nominee_id IN (SELECT id FROM nominees WHERE enrolment_id IN {enrolments})", (pid,))
        conn.execute("UPDATE nominees SET full_name = '', phone = '', email = '', member_code = ''"
                     f" WHERE enrolment_id IN {enrolments}", (pid,))
        for name in names:
            conn.execute("UPDATE audit_log SET detail = REPLACE(detail, ?, '(erased)') WHERE course_id IN"
                         " (SELECT course_id FROM enrolments WHERE participant_id = ?)", (name, pid))


def audit_export_tx(conn: sqlite3.Connection, who: Actor, person_id: int, kind: str) -> None:
    """A person's data handed out (on their request): on record, like every other use of it."""
    scans.insert_audit(conn, None, "person_export", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(person_id), detail=f"record {person_id} exported ({kind})")


def detach_tx(conn: sqlite3.Connection, who: Actor, body_id: int, person_id: int, enrolment_id: int,
              reason: str) -> int:
    """Undo a wrong automatic link (a shared phone, a reused member code): the course's enrolment leaves the
    record for a record of its own. Merging the two again is its inverse. Returns the new record's id."""
    reason = _reason(reason)
    person = _standing(conn, body_id, person_id)
    row = conn.execute("SELECT p.id FROM enrolments e JOIN participants p ON p.id = e.participant_id"
                       " WHERE e.id = ? AND p.person_id = ?", (enrolment_id, person.id)).fetchone()
    if row is None:
        raise Problem(404, "participant_not_found", "No such participant on this course.")
    if conn.execute("SELECT COUNT(*) FROM participants WHERE person_id = ?", (person.id,)).fetchone()[0] < 2:
        raise Problem(409, "only_course", "This is the record's only course: there is nothing to take apart.")
    new_id = conn.execute("INSERT INTO people (body_id, created_at) VALUES (?, ?) RETURNING id",
                          (body_id, to_db(who.now))).fetchone()[0]
    conn.execute("UPDATE participants SET person_id = ? WHERE id = ?", (new_id, row[0]))
    persons.refresh_person(conn, person.id)
    persons.refresh_person(conn, new_id)
    scans.insert_audit(conn, None, "person_detach", who.now, organiser_id=who.organiser_id,
                       subject=person_subject(person.id),
                       detail=f"enrolment {enrolment_id} taken out of record {person.id} into record {new_id}. {reason}")
    return new_id
