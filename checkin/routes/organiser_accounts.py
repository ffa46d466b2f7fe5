"""Organiser accounts: administrators add, disable and enable organisers and put them on courses; everyone
changes their own password."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from .. import forms
from ..errors import Problem
from ..forms import Form
from ..i18n import gettext as _
from ..sign_in import PASSWORD, SESSION_LIFETIME, adopt_session, client_address, new_secret
from ..store import course_setup, courses, organisers, scans, sign_ins
from ..text import whole_number
from .organiser_base import Page, organiser_page


async def _accounts_page(page: Page, form: Form | None = None, assign: Form | None = None,
                         status_code: int = 200) -> Response:
    db = page.svc.db
    return page.render("organiser/accounts.html", {
        "accounts": await db.read(course_setup.list_organisers),
        "all_courses": [c for c in await db.read(courses.list_courses, None) if c.archived_at is None],
        "form": form or Form({}), "assign": assign or Form({}),
        "min_password": organisers.MIN_PASSWORD_LENGTH, "created": page.request.query_params.get("created", ""),
    }, status_code=status_code)


@organiser_page(admin=True)
async def accounts(page: Page) -> Response:
    if page.form is None:
        return await _accounts_page(page)
    form, account = forms.read_account(page.form, organisers.MIN_PASSWORD_LENGTH)
    if account is not None and await page.svc.db.read(organisers.get_organiser_by_username, account["username"]):
        form.errors["username"] = _("This user name is taken.")
        account = None
    if account is None:
        return await _accounts_page(page, form=form, status_code=422)

    password_hash = await run_in_threadpool(organisers.hash_password, account["password"])

    def create(conn):
        organiser_id = organisers.insert_organiser(conn, account["username"], account["display_name"], None,
                                                   page.now, account["is_admin"], password_hash=password_hash)
        scans.insert_audit(conn, None, "organiser_created", page.now, organiser_id=page.organiser.id,
                           subject=f"organiser {organiser_id}", detail=account["username"])

    await page.svc.db.write(create)
    return page.redirect(f"/organisers?created={account['username']}")


@organiser_page(admin=True)
async def assign_course(page: Page) -> Response:
    form = Form(page.form)
    course_text, organiser_text = form.raw("course_id", 20), form.raw("organiser_id", 20)
    course_id, organiser_id = whole_number(course_text), whole_number(organiser_text)
    course = await page.svc.db.read(courses.get_course, course_id) if course_id is not None else None
    account = await page.svc.db.read(organisers.get_organiser, organiser_id) if organiser_id is not None else None
    if course is None:
        form.errors["course_id"] = _("Choose one of the options.")
    if account is None:
        form.errors["organiser_id"] = _("Choose one of the options.")
    if not form.ok:
        return await _accounts_page(page, assign=form, status_code=422)

    def add(conn):
        if course_setup.add_course_organiser(conn, course.id, account.id):
            scans.insert_audit(conn, course.id, "organiser_added", page.now, organiser_id=page.organiser.id,
                               subject=f"organiser {account.id}", detail=account.username)

    await page.svc.db.write(add)
    return page.redirect(f"/courses/{course.id}/edit#organisers")


@organiser_page(admin=True)
async def disable_account(page: Page) -> Response:
    """Disable an account: it cannot sign in, and every session of it ends now, open event streams included."""
    return await _set_disabled(page, True)


@organiser_page(admin=True)
async def enable_account(page: Page) -> Response:
    return await _set_disabled(page, False)


async def _set_disabled(page: Page, disabled: bool) -> Response:
    db = page.svc.db
    account = await db.read(organisers.get_organiser, page.param("organiser_id"))
    if account is None:
        raise Problem(404, "organiser_not_found", "There is no such organiser account.")
    if disabled and account.id == page.organiser.id:
        raise Problem(422, "cannot_disable_yourself",
                      "You cannot disable your own account; another administrator can.")

    def save(conn):
        ended = organisers.set_disabled(conn, account.id, disabled, page.now)
        scans.insert_audit(conn, None, "organiser_disabled" if disabled else "organiser_enabled", page.now,
                           organiser_id=page.organiser.id, subject=f"organiser {account.id}", detail=account.username)
        return ended

    page.svc.broadcaster.end_sessions(await db.write(save))
    return page.redirect("/organisers")


@organiser_page
async def change_password(page: Page) -> Response:
    """The signed-in organiser's own password. Every session of theirs ends (with its open event streams); this
    browser carries on with a new one. Wrong current passwords count towards the sign-in limits, so this is no
    way round them."""
    request, svc, me = page.request, page.svc, page.organiser
    context = {"min_password": organisers.MIN_PASSWORD_LENGTH, "changed": request.query_params.get("changed") == "1"}
    if page.form is None:
        return page.render("organiser/password.html", {**context, "form": Form({})})
    form, change = forms.read_password_change(page.form, organisers.MIN_PASSWORD_LENGTH)
    address = client_address(request)
    if await svc.sign_in.admit(PASSWORD, me.username, address, page.now):
        form.errors["current"] = _("Too many wrong passwords. Wait a quarter of an hour and try again.")
        return page.render("organiser/password.html", {**context, "form": form}, status_code=429)
    if change is not None and not await svc.db.read(organisers.check_password, me.id, change["current"]):
        await svc.sign_in.fail(PASSWORD, me.username, address, page.now)
        form.errors["current"] = _("This is not your current password.")
        change = None
    if change is None:
        return page.render("organiser/password.html", {**context, "form": form}, status_code=422)

    password_hash = await run_in_threadpool(organisers.hash_password, change["password"])
    secret, secret_hash = new_secret()

    def save(conn):
        # Every session ends, this browser's too (a copy of its cookie may be what someone else holds); this
        # browser carries on with a new one.
        ended = organisers.set_password_hash(conn, me.id, password_hash, page.now)
        sign_ins.insert_session(conn, me.id, secret_hash, page.now, SESSION_LIFETIME)
        scans.insert_audit(conn, None, "password_changed", page.now, organiser_id=me.id,
                           subject=f"organiser {me.id}", detail=me.username)
        return ended

    ended = await svc.db.write(save)
    await svc.sign_in.succeed(PASSWORD, me.username, address)
    adopt_session(request, secret)
    svc.broadcaster.end_sessions(ended)
    return page.redirect("/account/password?changed=1")


routes = [
    Route("/account/password", change_password, methods=["GET", "POST"], name="change_password"),
    Route("/organisers", accounts, methods=["GET", "POST"], name="accounts"),
    Route("/organisers/assign", assign_course, methods=["POST"], name="assign_course"),
    Route("/organisers/{organiser_id:int}/disable", disable_account, methods=["POST"], name="disable_account"),
    Route("/organisers/{organiser_id:int}/enable", enable_account, methods=["POST"], name="enable_account"),
]
