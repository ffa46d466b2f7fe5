"""Roster import: upload, preview (recognised rows, problems, likely duplicates), confirm or cancel.

Nothing is written to the course before the organiser confirms. Between the two steps the uploaded
file itself is kept server-side (store.imports), tied to the organiser and the course, and parsed
again on confirm: the rows never travel through the browser, so they cannot be altered there.
"""

from __future__ import annotations

from collections import OrderedDict

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from ..course import importing
from ..bodies import upload_limit
from ..errors import Problem
from ..i18n import current_language
from ..i18n import gettext as _
from ..roster import RosterError, RosterParse, parse_roster
from ..store import imports, people, persons, scans
from .organiser_base import Page, organiser_page

PREVIEW_ROWS = 100
NOTES_PER_KIND = 20
PROBLEMS_SHOWN = 500  # a file with a column missing has a problem on every row; the first ones tell the story
# The parse of the last few uploads, by upload id and language, so the preview after the upload does not parse
# the file a second time. An upload's bytes never change, so a cached parse is the parse of those bytes; its
# messages are in the language of the page that parsed it, so another language parses again, as does another
# process (or a restart).
_PARSED: OrderedDict[tuple[str, str], RosterParse] = OrderedDict()
_PARSED_MAX = 8


def _remember(import_id: str, parsed: RosterParse) -> None:
    key = (import_id, current_language())
    _PARSED[key] = parsed
    _PARSED.move_to_end(key)
    while len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)


def _upload_page(page: Page, error: RosterError | None = None, status_code: int = 200,
                 headers: dict[str, str] | None = None) -> Response:
    response = page.render("organiser/import.html", {
        "error": error, "max_mb": page.svc.settings.max_upload_bytes / 1e6,
    }, status_code=status_code)
    response.headers.update(headers or {})
    return response


async def _parse(page: Page, data: bytes, filename: str) -> RosterParse:
    # Parsing a few thousand rows takes a second of pure Python: in a child process, so that the door's scans
    # do not wait on it. The child speaks the page's language, so the parser's messages are in it.
    return await page.svc.workers.run(parse_roster, data, filename, max_bytes=page.svc.settings.max_upload_bytes)


def _worker_limit(problem: Problem) -> RosterError | None:
    """A document worker's limit hit while reading a roster, said about the file (None: not a worker's limit)."""
    messages = {
        "document_too_large": _("Reading this file needs more memory than the server allows for one upload; save only "
                                "the participant list as a new .xlsx or CSV file and upload that."),
        "worker_timeout": _("Reading this file took longer than the server allows, so it was stopped; save only the "
                            "participant list as a new .xlsx or CSV file and upload that."),
        "workers_busy": _("The server is busy reading other files. Try again in a minute."),
    }
    return RosterError(problem.code, messages[problem.code]) if problem.code in messages else None


@organiser_page(upload=True)
async def import_upload(page: Page) -> Response:
    if page.form is None:
        return _upload_page(page)
    upload = page.form.get("roster")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_page(page, RosterError("no_file", _("Choose the roster file first.")), 422)
    limit = page.svc.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    filename = upload.filename[:200]
    try:
        parsed = await _parse(page, data, filename)
    except RosterError as exc:
        return _upload_page(page, exc, 422)
    except Problem as exc:
        if (error := _worker_limit(exc)) is None:
            raise
        return _upload_page(page, error, exc.status, exc.headers)
    import_id = await page.svc.db.write(
        imports.insert_pending_import, page.course_id, page.organiser.id, filename, data, page.now)
    _remember(import_id, parsed)
    return page.redirect(f"/courses/{page.course_id}/import/{import_id}")


async def _pending(page: Page) -> imports.PendingImport:
    pending = await page.svc.db.read(imports.get_pending_import, page.param("import_id"))
    if (pending is None or pending.course_id != page.course_id or pending.organiser_id != page.organiser.id
            or pending.expires_at <= page.now):
        raise Problem(404, "import_not_found", "This upload was already imported, cancelled or has expired. "
                      "Upload the file again.")
    return pending


@organiser_page
async def import_preview(page: Page) -> Response:
    pending = await _pending(page)
    parsed = await _parsed(page, pending)
    roster = await page.svc.db.read_aside(people.list_roster, page.course_id)  # the whole course: not on the door's reader
    preview = await run_in_threadpool(importing.preview_roster, parsed, roster)
    links = await page.svc.db.read_aside(persons.preview_links, page.course_id, parsed.rows)  # records across courses
    notes: dict[str, list] = {}
    for note in parsed.warnings:
        notes.setdefault(note.code, []).append(note)
    return page.render("organiser/import_preview.html", {
        "pending": pending, "preview": preview, "parsed": parsed, "shown": PREVIEW_ROWS,
        "plans": preview.plans[:PREVIEW_ROWS], "duplicates": preview.duplicates, "notes": notes,
        "notes_shown": NOTES_PER_KIND, "problems_shown": PROBLEMS_SHOWN, "links": links,
    })


async def _parsed(page: Page, pending: imports.PendingImport) -> RosterParse:
    parsed = _PARSED.get((pending.id, current_language()))
    if parsed is None:
        parsed = await _parse(page, pending.data, pending.filename)
        _remember(pending.id, parsed)
    return parsed


@organiser_page
async def import_confirm(page: Page) -> Response:
    pending = await _pending(page)
    parsed = await _parsed(page, pending)
    if not parsed.rows:
        raise Problem(422, "nothing_to_import", "No row of this file can be imported; fix the problems and upload it again.")

    def claim(conn):
        # In the first chunk's transaction, so a double click imports once.
        if not imports.delete_pending_import(conn, pending.id):
            raise Problem(404, "import_not_found", "This upload was already imported, cancelled or has expired. "
                          "Upload the file again.")

    def audit(conn, result: importing.ImportResult):
        scans.insert_audit(
            conn, page.course_id, "roster_imported", page.now, organiser_id=page.organiser.id,
            subject=f"file {pending.filename}",
            detail=f"added {result.added}, updated {result.updated}, unchanged {result.unchanged}, "
                   f"left out {len(parsed.problems)}",
        )

    # In short transactions of a few hundred rows, so that the door's scans get the writer in between.
    db = page.svc.db
    result = await importing.import_in_chunks(db.write, page.svc.db.read_aside, page.course_id, parsed.rows, page.now,
                                              first=claim, last=audit)
    for key in [key for key in _PARSED if key[0] == pending.id]:
        del _PARSED[key]
    return page.redirect(f"/courses/{page.course_id}/people?added={result.added}&updated={result.updated}"
                         f"&unchanged={result.unchanged}")


TEMPLATE_COLUMNS = ("STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Email", "Mã đoàn viên")


def _template_workbook() -> bytes:
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Danh sách"
    sheet.append(TEMPLATE_COLUMNS)
    for column, width in zip("ABCDEFG", (6, 28, 40, 18, 16, 28, 16)):
        sheet.column_dimensions[column].width = width
        # Text format, so Excel keeps a phone number's leading 0 and a member code as typed.
        for row in range(2, 502):
            sheet[f"{column}{row}"].number_format = "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@organiser_page
async def import_template(page: Page) -> Response:
    data = await run_in_threadpool(_template_workbook)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"content-disposition": 'attachment; filename="danh-sach-hoc-vien.xlsx"'})


@organiser_page
async def import_cancel(page: Page) -> Response:
    pending = await _pending(page)
    await page.svc.db.write(imports.delete_pending_import, pending.id)
    return page.redirect(f"/courses/{page.course_id}/import")


routes = [
    Route("/courses/{course_id:int}/import", import_upload, methods=["GET", "POST"], name="import_upload",
          middleware=upload_limit()),
    Route("/courses/{course_id:int}/import/template.xlsx", import_template, methods=["GET"], name="import_template"),
    Route("/courses/{course_id:int}/import/{import_id:str}", import_preview, methods=["GET"], name="import_preview"),
    Route("/courses/{course_id:int}/import/{import_id:str}/confirm", import_confirm, methods=["POST"],
          name="import_confirm"),
    Route("/courses/{course_id:int}/import/{import_id:str}/cancel", import_cancel, methods=["POST"],
          name="import_cancel"),
]
