"""Organiser pages of the units wing: the body's unit directory (import from a spreadsheet, edit, and the roster
spellings tied to its entries only when an organiser confirms a proposal). Under a course's path: the directory
shown is that of the course's organising body."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..bodies import upload_limit
from ..course import mailing
from ..errors import Problem
from ..forms import Form
from ..i18n import gettext as _
from ..roster import RosterError
from ..store import bodies, scans, unit_directory
from ..store.unit_directory import MemberUnitDetails
from ..text import whole_number
from ..units import directory
from .organiser_base import Page, organiser_page


async def body_id_of(page: Page) -> int:
    """The course's organising body (whose directory the course's units come from)."""
    body = await page.svc.db.read(bodies.get_course_body, page.course_id)
    if body is None:
        raise Problem(404, "body_not_found", "This course names no organising body.")
    return body.id


# --- the directory ----------------------------------------------------------------------------------------------


@organiser_page
async def units_directory(page: Page) -> Response:
    return await _render_directory(page)


async def _render_directory(page: Page, form: Form | None = None, status_code: int = 200, **extra) -> Response:
    db, body_id = page.svc.db, await body_id_of(page)
    entries = await db.read(unit_directory.list_member_units, body_id)
    spellings = await db.read(unit_directory.list_spellings, body_id)
    q = page.request.query_params
    return page.render("units/directory.html", {
        "entries": entries, "by_id": {e.id: e for e in entries},
        "proposals": directory.propose(spellings, entries),
        "decided": [s for s in spellings if s.decided], "form": form or Form({}),
        "editing": next((e for e in entries if str(e.id) == q.get("edit", "")), None),
        "done": q.get("done", ""), "imported": None, **extra,
    }, status_code)


def _read_entry(data) -> tuple[Form, MemberUnitDetails | None]:
    form = Form(data)
    name = form.text("name", required=True, max_len=200)
    short = form.text("short_name", max_len=60)
    contact = form.text("contact_name", max_len=120)
    phone_text = form.raw("contact_phone", 41)
    from ..roster import normalise_phone

    phone = normalise_phone(phone_text)
    if phone.error:
        form.errors["contact_phone"] = _("A phone number such as 0912345678.")
    email = form.text("contact_email", max_len=254).lower()
    if email and not mailing.looks_like_email(email):
        form.errors["contact_email"] = _("An email address such as name@example.com.")
    if not form.ok:
        return form, None
    return form, MemberUnitDetails(name, short, contact, phone.value, email, data.get("active") == "1")


@organiser_page
async def units_directory_save(page: Page) -> Response:
    body_id = await body_id_of(page)
    form, details = _read_entry(page.form)
    if details is None:
        return await _render_directory(page, form, 422)
    entry_id = whole_number(str(page.form.get("member_unit_id", "")))

    def save(conn):
        same = unit_directory.get_member_unit_by_name(conn, body_id, details.name)
        if entry_id is None:
            if same is not None:
                raise Problem(409, "unit_exists", "The directory already has a unit with this name.")
            new_id = unit_directory.insert_member_unit(conn, body_id, details, page.now)
            scans.insert_audit(conn, page.course_id, "member_unit_added", page.now, organiser_id=page.organiser.id,
                               subject=f"member unit {new_id}", detail=details.name)
            return
        if unit_directory.get_member_unit(conn, body_id, entry_id) is None:
            raise Problem(404, "member_unit_not_found", "There is no such unit in this body's directory.")
        if same is not None and same.id != entry_id:
            raise Problem(409, "unit_exists", "The directory already has a unit with this name.")
        unit_directory.update_member_unit(conn, entry_id, details, page.now)
        scans.insert_audit(conn, page.course_id, "member_unit_updated", page.now, organiser_id=page.organiser.id,
                           subject=f"member unit {entry_id}", detail=details.name)

    await page.svc.db.write(save)
    return page.redirect(f"/courses/{page.course_id}/units/directory?done=saved")


@organiser_page(upload=True)
async def units_directory_import(page: Page) -> Response:
    body_id = await body_id_of(page)
    upload = page.form.get("file")
    if upload is None or isinstance(upload, str):
        raise Problem(422, "file_missing", "Choose the spreadsheet of units (.xlsx or .csv).")
    data = await upload.read()
    try:
        parsed = await page.svc.workers.run(directory.parse_directory, data, upload.filename or "",
                                            max_bytes=page.svc.settings.max_upload_bytes)
    except RosterError as exc:
        return await _render_directory(page, status_code=422, import_error=str(exc))

    def apply(conn):
        added = updated = 0
        for row in parsed.rows:
            old = unit_directory.get_member_unit_by_name(conn, body_id, row.details.name)
            if old is None:
                unit_directory.insert_member_unit(conn, body_id, row.details, page.now)
                added += 1
                continue
            # Only what the file fills in changes: an empty cell keeps what the directory knows.
            merged = MemberUnitDetails(old.name, *(new or was for new, was in (
                (row.details.short_name, old.short_name), (row.details.contact_name, old.contact_name),
                (row.details.contact_phone, old.contact_phone), (row.details.contact_email, old.contact_email))),
                active=old.active)
            if merged != old.details:
                unit_directory.update_member_unit(conn, old.id, merged, page.now)
                updated += 1
        scans.insert_audit(conn, page.course_id, "member_units_imported", page.now, organiser_id=page.organiser.id,
                           subject=f"body {body_id}", detail=f"{added} added, {updated} updated")
        return added, updated

    added, updated = await page.svc.db.write(apply)
    return await _render_directory(page, imported={"added": added, "updated": updated, "skipped": parsed.skipped})


@organiser_page
async def units_spelling(page: Page) -> Response:
    body_id = await body_id_of(page)
    unit_id = whole_number(str(page.form.get("unit_id", "")))
    choice = str(page.form.get("member_unit_id", ""))
    if unit_id is None:
        raise Problem(422, "unit_missing", "Choose the spelling to decide on.")

    def decide(conn):
        if not any(s.unit_id == unit_id for s in unit_directory.list_spellings(conn, body_id)):
            raise Problem(404, "spelling_not_found", "No roster of this body names such a unit.")
        if choice == "undo":
            unit_directory.undo_spelling(conn, body_id, unit_id)
            return
        target = None
        if choice != "none":
            wanted = whole_number(choice)
            if wanted is None or unit_directory.get_member_unit(conn, body_id, wanted) is None:
                raise Problem(422, "member_unit_not_found", "Choose a unit of the directory.")
            target = wanted
        unit_directory.decide_spelling(conn, body_id, unit_id, target, page.organiser.id, page.now)
        scans.insert_audit(conn, page.course_id, "unit_spelling_decided", page.now, organiser_id=page.organiser.id,
                           subject=f"unit spelling {unit_id}", detail=str(target or "none"))

    await page.svc.db.write(decide)
    return page.redirect(f"/courses/{page.course_id}/units/directory?done=matched#proposals")


routes = [
    Route("/courses/{course_id:int}/units/directory", units_directory, name="units_directory"),
    Route("/courses/{course_id:int}/units/directory", units_directory_save, methods=["POST"],
          name="units_directory_save"),
    Route("/courses/{course_id:int}/units/directory/import", units_directory_import, methods=["POST"],
          name="units_directory_import", middleware=upload_limit()),
    Route("/courses/{course_id:int}/units/directory/spellings", units_spelling, methods=["POST"],
          name="units_spelling"),
]
