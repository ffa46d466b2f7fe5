"""Certificates of attendance: who qualifies (at least N of the M sessions), issuing them with a random
verification code, and the PDF, one page each. The public page /verify/{code} confirms one is genuine.

Issuing is planned first (a read: who qualifies, whose certificate is withdrawn), then written in short
transactions of ISSUE_CHUNK people, so that the door's scans get the single writer in between (20,000
certificates in one transaction held it for about two seconds). Every step is idempotent (a certificate is
refreshed, never doubled, and keeps its code), so an issue cut short is completed by issuing again."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

from ..completion import rule as completion_rule
from ..course.attendance import people_attendance
from ..errors import Problem
from ..i18n import gettext as _
from ..text import whole_number
from ..models import Course, CourseSession
from .pdf import BASELINE_EM, FONT_FAMILY, PT_MM, draw_text_lines, fill_rects, fit_text, new_document
from ..store import certificates as store
from ..store import completion as completion_store
from ..store import courses, people, scans
from ..store.certificates import Certificate, NewCertificate
from ..store.db import connect

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper is hard to get wrong.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 random bits: not guessable through a web form, short enough to type
ACCENT = (139, 26, 26)
# A chunk is at most ISSUE_CHUNK certificates and CHUNK_SECONDS of the writer; between two chunks the issue rests
# as long as the last one took (PAUSE_SECONDS to PAUSE_MAX), as the roster import does.
ISSUE_CHUNK = 150
CHUNK_SECONDS = 0.010
PAUSE_SECONDS = 0.005
PAUSE_MAX = 0.05


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _position in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """As printed: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def normalise_code(text: str) -> str | None:
    """What a person typed (any case, dashes, spaces, O for 0, I or L for 1) as a stored code, or None."""
    code = text.upper().replace("-", "").replace(" ", "").replace("O", "0").replace("I", "1").replace("L", "1")
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def required_sessions(course: Course, total: int) -> int:
    """N of "at least N of the M sessions": the course's setting, or all of them."""
    if course.min_sessions_for_certificate is None:
        return total
    return max(1, min(course.min_sessions_for_certificate, total))


def parse_min_sessions(raw: str, total: int) -> int | None:
    """The organiser's N as typed: empty (or "all") for every session, else 1 to the number of sessions."""
    raw = raw.strip()
    if raw in ("", "all"):
        return None
    number = whole_number(raw)
    if number is not None and 1 <= number <= max(total, 1):
        return number
    message = f"Give a number of sessions from 1 to {total}, or leave it empty for all of them."
    raise Problem(422, "bad_min_sessions", message, field="min_sessions")


def set_rule_tx(conn: sqlite3.Connection, course_id: int, minimum: int | None, organiser_id: int, now: datetime) -> None:
    store.update_min_sessions(conn, course_id, minimum)
    scans.insert_audit(conn, course_id, "certificate_rule", now, organiser_id=organiser_id,
                       detail=f"at least {minimum} sessions" if minimum else "every session")


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a course stands on certificates."""

    required: int
    total: int
    eligible: int
    issued: int  # certificates currently valid
    setting: int | None  # the course's own N; None means every session


@dataclass(frozen=True, slots=True)
class Issued:
    course: Course
    sessions: list[CourseSession]
    certificates: list[Certificate]  # valid ones, in roster order (unit, then name)
    attended: dict[int, list[CourseSession]]  # enrolment id -> sessions attended
    revoked: int


def _attendance(conn: sqlite3.Connection, course_id: int, now: datetime):
    course = courses.get_course(conn, course_id)
    sessions = courses.list_sessions(conn, course_id)
    result = people_attendance(sessions, people.list_roster(conn, course_id), scans.list_attendance(conn, course_id), now)
    return course, sessions, result


def completions(conn: sqlite3.Connection, course_id: int, now: datetime) -> list[completion_rule.PersonCompletion]:
    """Everyone's standing on the course's completion rule (N of M sessions, feedback, reflection): the
    certificate goes to those who complete (a read)."""
    _course, sessions, result = _attendance(conn, course_id, now)
    rule = completion_store.get_rule(conn, course_id)
    feedback = completion_store.list_feedback_given(conn, course_id) if rule.require_feedback else set()
    reflections = completion_store.list_reflection_states(conn, course_id) if rule.require_reflection else {}
    return completion_rule.evaluate(rule, sessions, result, feedback, reflections)


def certificate_standing(conn: sqlite3.Connection, course_id: int, now: datetime) -> Standing:
    course = courses.get_course(conn, course_id)
    standing = completions(conn, course_id, now)
    total = len(courses.list_sessions(conn, course_id))
    issued = sum(1 for c in store.list_certificates(conn, course_id) if c.revoked_at is None)
    return Standing(required_sessions(course, total), total, sum(1 for p in standing if p.complete), issued,
                    course.min_sessions_for_certificate)


@dataclass(frozen=True, slots=True)
class IssuePlan:
    """Who gets a certificate, decided from the attendance before anything is written."""

    course_id: int
    required: int
    sessions_total: int
    # (enrolment id, name, unit, ids of the sessions attended), in roster order (unit, then name)
    people: tuple[tuple[int, str, str, tuple[int, ...]], ...]
    withdraw: tuple[int, ...]  # enrolments whose valid certificate no longer qualifies


def plan_certificates(conn: sqlite3.Connection, course_id: int, now: datetime) -> IssuePlan:
    """Everyone who qualifies now, and whose certificate is to be withdrawn (a read)."""
    course = courses.get_course(conn, course_id)
    total = len(courses.list_sessions(conn, course_id))
    required = required_sessions(course, total)
    # Only those who complete: N of M sessions counted (late as the course says, left_early never), and the
    # feedback and the accepted reflection when the course asks for them.
    people_ = tuple(
        (p.person.enrolment_id, p.person.full_name, p.person.unit, p.counted)
        for p in completions(conn, course_id, now) if p.complete
    )
    keep = {p[0] for p in people_}
    withdraw = tuple(c.enrolment_id for c in store.list_certificates(conn, course_id)
                     if c.revoked_at is None and c.enrolment_id not in keep)
    return IssuePlan(course_id, required, total, people_, withdraw)


def issue_chunk_tx(conn: sqlite3.Connection, plan: IssuePlan, start: int, now: datetime, size: int = ISSUE_CHUNK,
                   budget: float | None = None) -> int:
    """Issue (or refresh, keeping its code) the certificates of plan.people[start:start + size], fewer if `budget`
    seconds run out first; returns where the next chunk starts. Runs in the caller's write transaction."""
    started = time.perf_counter()
    position = start
    for enrolment_id, full_name, unit, attended in plan.people[start:start + size]:
        store.upsert_certificate(conn, NewCertificate(
            code=new_code(), course_id=plan.course_id, enrolment_id=enrolment_id, full_name=full_name, unit=unit,
            sessions_attended=len(attended), sessions_total=plan.sessions_total,
        ), now)
        position += 1
        if budget is not None and time.perf_counter() - started > budget:
            break
    return position


def withdraw_chunk_tx(conn: sqlite3.Connection, plan: IssuePlan, start: int, now: datetime,
                      size: int = ISSUE_CHUNK) -> int:
    """Withdraw the certificates of plan.withdraw[start:start + size]; returns how many were still valid."""
    return store.revoke_enrolment_certificates(conn, plan.course_id, plan.withdraw[start:start + size], now)


def record_issue_tx(conn: sqlite3.Connection, plan: IssuePlan, revoked: int, organiser_id: int | None,
                    now: datetime) -> None:
    scans.insert_audit(conn, plan.course_id, "certificates_issued", now, organiser_id=organiser_id,
                       detail=f"{len(plan.people)} valid, {revoked} revoked, at least {plan.required} of "
                              f"{plan.sessions_total} sessions")


def issued_certificates(conn: sqlite3.Connection, plan: IssuePlan) -> Issued:
    """The certificates the plan issued, as stored, in its order: what the PDF prints (a read)."""
    course = courses.get_course(conn, plan.course_id)
    sessions = courses.list_sessions(conn, plan.course_id)
    by_enrolment = {c.enrolment_id: c for c in store.list_certificates(conn, plan.course_id)}
    by_id = {s.id: s for s in sessions}
    ordered = [by_enrolment[p[0]] for p in plan.people if p[0] in by_enrolment]
    attended = {p[0]: [by_id[i] for i in p[3] if i in by_id] for p in plan.people}
    return Issued(course, sessions, ordered, attended, len(plan.withdraw))


def plan_at(target, course_id: int, now: datetime) -> IssuePlan:
    """plan_certificates on a connection of its own, for a worker process: the server itself never holds a whole
    course's attendance (100,000 objects, and a pause of its garbage collector over them stops the door too)."""
    conn = connect(target)
    try:
        return plan_certificates(conn, course_id, now)
    finally:
        conn.close()


def certificates_pdf_at(target, plan: IssuePlan, base_url: str,
                        progress: Callable[[int, int], None] | None = None) -> bytes:
    """The PDF of what the plan issued, read and drawn in a worker process (see plan_at)."""
    conn = connect(target)
    try:
        issued = issued_certificates(conn, plan)
    finally:
        conn.close()
    return certificates_pdf(issued, base_url, progress)


async def issue_in_chunks(
    write: Callable[..., Awaitable], plan: IssuePlan, now: datetime, organiser_id: int | None = None,
    progress: Callable[[int, int], Awaitable[None]] | None = None, budget: float | None = CHUNK_SECONDS,
) -> int:
    """Issue and withdraw what the plan says, a chunk per write (db.write), then record it in the audit trail;
    returns how many certificates were withdrawn."""
    done = 0
    while done < len(plan.people):
        started = time.perf_counter()
        done = await write(issue_chunk_tx, plan, done, now, ISSUE_CHUNK, budget)
        if progress is not None:
            await progress(done, len(plan.people))
        # The door's scans waiting meanwhile go first, and the writer's thread rests.
        await asyncio.sleep(min(PAUSE_MAX, max(PAUSE_SECONDS, time.perf_counter() - started)))
    revoked = 0
    for start in range(0, len(plan.withdraw), ISSUE_CHUNK):
        revoked += await write(withdraw_chunk_tx, plan, start, now)
    await write(record_issue_tx, plan, revoked, organiser_id, now)
    return revoked


def issue_in_transactions(conn: sqlite3.Connection, course_id: int, now: datetime, *, transaction: Callable,
                          organiser_id: int | None = None) -> Issued:
    """The command line's issue: the same steps, a transaction(conn) (a context manager) each."""
    plan = plan_certificates(conn, course_id, now)
    done = revoked = 0
    while done < len(plan.people):
        with transaction(conn):
            done = issue_chunk_tx(conn, plan, done, now)
    for start in range(0, len(plan.withdraw), ISSUE_CHUNK):
        with transaction(conn):
            revoked += withdraw_chunk_tx(conn, plan, start, now)
    with transaction(conn):
        record_issue_tx(conn, plan, revoked, organiser_id, now)
    return issued_certificates(conn, plan)


# --- the PDF ---------------------------------------------------------------------------------------

PAGE_W, PAGE_H = 297.0, 210.0


def certificates_pdf(issued: Issued, base_url: str, progress: Callable[[int, int], None] | None = None) -> bytes:
    """One A4 landscape page per certificate, in the current language (Vietnamese unless the organiser chose
    English for the document). `progress(done, total)` hears of every page drawn."""
    pdf = new_document(title=_("Certificate – %(course)s") % {"course": issued.course.title}, orientation="L")
    zone = ZoneInfo(issued.course.time_zone)
    total = len(issued.certificates)
    for done, certificate in enumerate(issued.certificates, 1):
        pdf.add_page()
        _page(pdf, issued, certificate, zone, base_url.rstrip("/"))
        if progress is not None:
            progress(done, total)
    if not issued.certificates:
        pdf.add_page()
        draw_text_lines(pdf, fit_text(_("No participant qualifies for a certificate yet."), 240, max_pt=16,
                                      min_pt=12, max_lines=2), 28, 90, 240)
    return bytes(pdf.output())


def _page(pdf: FPDF, issued: Issued, certificate: Certificate, zone: ZoneInfo, base_url: str) -> None:
    course = issued.course
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, PAGE_W - 16, PAGE_H - 16)
    pdf.set_line_width(0.3)
    pdf.rect(11.5, 11.5, PAGE_W - 23, PAGE_H - 23)
    x, width = 30.0, PAGE_W - 60
    y = 20.0
    if course.organiser_name:
        y = draw_text_lines(pdf, fit_text(course.organiser_name.upper(), width, max_pt=13, min_pt=9, max_lines=2,
                                          bold=True), x, y, width)
    y += 5
    y = _centre(pdf, _("CERTIFICATE OF ATTENDANCE"), y, width, 32, bold=True, colour=ACCENT)
    y += 3
    y = _centre(pdf, _("The organising committee certifies that"), y, width, 13)
    y = draw_text_lines(pdf, fit_text(certificate.full_name, width, max_pt=26, min_pt=16, max_lines=1, bold=True),
                        x, y + 1, width)
    y += 1
    if certificate.unit:
        unit = _("Unit: %(unit)s") % {"unit": certificate.unit}
        y = draw_text_lines(pdf, fit_text(unit, width, max_pt=13, min_pt=10, max_lines=2),
                            x, y + 1, width)
    y += 3
    attended_line = _("attended %(course)s") % {"course": course.title}
    y = draw_text_lines(pdf, fit_text(attended_line, width, max_pt=15, min_pt=10, max_lines=2,
                                      bold=True), x, y, width)
    day = f"{course.course_date:%d/%m/%Y}"
    where = (_("on %(date)s at %(venue)s") % {"date": day, "venue": course.venue} if course.venue
             else _("on %(date)s") % {"date": day})
    y = draw_text_lines(pdf, fit_text(where, width, max_pt=12, min_pt=9, max_lines=2), x, y + 1, width)
    attended = issued.attended.get(certificate.enrolment_id, [])
    y = draw_text_lines(pdf, fit_text(
        _("Sessions attended: %(n)s/%(total)s") % {"n": certificate.sessions_attended,
                                                   "total": certificate.sessions_total}, width,
        max_pt=12, min_pt=10, max_lines=1, bold=True), x, y + 3, width)
    titles = "; ".join(s.title for s in attended)
    if titles:
        draw_text_lines(pdf, fit_text(titles, width, max_pt=9.5, min_pt=7, max_lines=3), x, y + 1, width, gray=60)

    # Bottom left: the QR of the verification page and the code; bottom right: the signature block.
    url = f"{base_url}/verify/{certificate.code}"
    _qr(pdf, url, 24, 153, 32)
    pdf.set_text_color(0)
    draw_text_lines(pdf, fit_text(_("Verification code"), 90, max_pt=9, min_pt=8, max_lines=1), 61, 158, 90, align="L")
    draw_text_lines(pdf, fit_text(format_code(certificate.code), 90, max_pt=16, min_pt=12, max_lines=1, bold=True),
                    61, 163, 90, align="L")
    check = _("Check it at: %(url)s") % {"url": url}
    draw_text_lines(pdf, fit_text(check, 100, max_pt=8.5, min_pt=6, max_lines=2), 61, 172, 100,
                    align="L", gray=60)
    issued_on = certificate.issued_at.astimezone(zone)
    right_x, right_w = PAGE_W - 125, 100
    draw_text_lines(pdf, fit_text(_("Issued on %(day)s/%(month)s/%(year)s") % {
        "day": f"{issued_on:%d}", "month": f"{issued_on:%m}", "year": f"{issued_on:%Y}"}, right_w,
                                  max_pt=11, min_pt=9, max_lines=1), right_x, 152, right_w)
    signed_for = _("FOR THE ORGANISING COMMITTEE")
    draw_text_lines(pdf, fit_text(signed_for, right_w, max_pt=12, min_pt=10, max_lines=1, bold=True),
                    right_x, 159, right_w)


def _centre(pdf: FPDF, text: str, y: float, width: float, size: float, *, bold: bool = False,
            colour: tuple[int, int, int] = (0, 0, 0)) -> float:
    """One centred line in a colour (draw_text_lines only knows grays); returns the y below it."""
    fitted = fit_text(text, width, max_pt=size, min_pt=size * 0.7, max_lines=1, bold=bold)
    pdf.set_font(FONT_FAMILY, "B" if bold else "", fitted.size_pt)
    pdf.set_text_color(*colour)
    line = fitted.lines[0]
    pdf.text(30.0 + (width - pdf.get_string_width(line)) / 2, y + fitted.size_pt * PT_MM * BASELINE_EM, line)
    pdf.set_text_color(0)
    return y + fitted.height_mm


def qr_modules(text: str) -> list[list[bool]]:
    """The QR's dark modules, without the quiet zone. A fixed mask: choosing the best of the eight (what
    qrcode does by default) takes most of the time of a certificate, and every mask decodes."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=0)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def _qr(pdf: FPDF, text: str, x: float, y: float, size: float) -> None:
    modules = qr_modules(text)
    n = len(modules)
    cell = size / n
    rects = []
    for row, line in enumerate(modules):
        col = 0
        while col < n:  # one rectangle per horizontal run of dark modules
            if not line[col]:
                col += 1
                continue
            start = col
            while col < n and line[col]:
                col += 1
            rects.append((x + start * cell, y + row * cell, (col - start) * cell, cell))
    fill_rects(pdf, rects)
