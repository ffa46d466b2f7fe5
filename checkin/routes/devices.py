"""The organiser's page for a course's usher phones: make a pairing QR, see and unpair the phones."""

from __future__ import annotations

import base64
import ipaddress

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..documents import badges
from ..door import pairing
from .. import tls
from ..errors import Problem
from ..store import courses, devices, pairings
from ..store import offline as offline_store
from ..text import whole_number
from ..web import render, services
from .organiser_base import Page, organiser_page

FLASH = "new_pairing"


@organiser_page
async def device_list(page: Page) -> Response:
    request, svc, course = page.request, page.svc, page.course
    new = request.session.pop(FLASH, None)
    shown = None
    if isinstance(new, dict) and new.get("course_id") == course.id:
        # The code exists only here, once: the database keeps its hash.
        link = f"{phone_base_url(request)}/p/{new['code']}"
        shown = {
            "id": new["id"], "code": pairings.format_code(new["code"]), "link": link,
            "qr": "data:image/png;base64," + base64.b64encode(badges.qr_png(link, scale=8)).decode("ascii"),
        }
    response = render(request, "organiser/devices.html", {
        "course": course,
        "devices": await svc.db.read(devices.list_devices, course.id),
        "sync_states": await svc.db.read(offline_store.list_sync_states, course.id),
        "double_admissions": await svc.db.read(offline_store.list_double_admissions, course.id),
        "session_titles": {s.id: s.title for s in await svc.db.read(courses.list_sessions, course.id)},
        "pairings": await svc.db.read(pairings.list_pairings, course.id),
        "new_pairing": shown,
        "lifetimes": pairing.LIFETIMES_MIN,
        "max_uses": pairing.MAX_USES,
        "now": page.now,
        "local_only": only_this_machine(svc.settings.host) and not svc.settings.base_url,
        "secure": request.url.scheme == "https" or bool(svc.settings.base_url.startswith("https://")),
    })
    response.headers["Cache-Control"] = "no-store"
    return response


@organiser_page
async def create_pairing(page: Page) -> Response:
    lifetime = _choice(page.form.get("lifetime"), pairing.LIFETIMES_MIN, "lifetime")
    max_uses = _choice(page.form.get("max_uses"), pairing.MAX_USES, "max_uses")
    pairing_id, code, _expires = await page.svc.db.write(
        pairing.create_pairing_tx, page.course_id, page.organiser.id, lifetime, max_uses, page.now
    )
    page.request.session[FLASH] = {"id": pairing_id, "code": code, "course_id": page.course_id}
    return RedirectResponse(f"/courses/{page.course_id}/devices#new-pairing", status_code=303)


@organiser_page
async def cancel_pairing(page: Page) -> Response:
    if not await page.svc.db.write(pairings.revoke_pairing, page.course_id, page.param("pairing_id"), page.now):
        raise Problem(404, "pairing_not_found", "There is no such pairing code on this course.")
    return RedirectResponse(f"/courses/{page.course_id}/devices", status_code=303)


@organiser_page
async def revoke_device(page: Page) -> Response:
    await page.svc.db.write(
        pairing.revoke_device_tx, page.course_id, page.request.path_params["device_id"], page.organiser.id, page.now
    )
    page.svc.devices.clear()  # the token cache must not let the phone in for another second
    return RedirectResponse(f"/courses/{page.course_id}/devices", status_code=303)


def _choice(raw: object, allowed: tuple[int, ...], field: str) -> int:
    value = whole_number(raw)
    if value not in allowed:
        raise Problem(422, "invalid_field", f"Choose one of: {', '.join(map(str, allowed))}.", field=field)
    return value


def phone_base_url(request: Request) -> str:
    """Where a phone on the venue network reaches this server: the configured public URL; else the
    address the organiser used, unless that is this laptop's loopback, then the LAN address."""
    settings = services(request).settings
    if settings.base_url:
        return settings.base_url.rstrip("/")
    url = request.url
    host = url.hostname or "127.0.0.1"
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback and not only_this_machine(settings.host):
        found = [settings.host] if settings.host not in ("0.0.0.0", "::", "") else tls.phone_addresses()
        if found:
            host = found[0]
    shown = f"[{host}]" if ":" in host else host
    default_port = {"http": 80, "https": 443}[url.scheme]
    port = f":{url.port}" if url.port and url.port != default_port else ""
    return f"{url.scheme}://{shown}{port}"


def only_this_machine(bind_host: str) -> bool:
    """True when the server listens on loopback only, so no phone can reach it."""
    if bind_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind_host).is_loopback
    except ValueError:
        return False


routes = [
    Route("/courses/{course_id:int}/devices", device_list, methods=["GET"], name="device_list"),
    Route("/courses/{course_id:int}/devices/pairings", create_pairing, methods=["POST"], name="create_pairing"),
    Route("/courses/{course_id:int}/devices/pairings/{pairing_id:int}/cancel", cancel_pairing, methods=["POST"],
          name="cancel_pairing"),
    Route("/courses/{course_id:int}/devices/{device_id:int}/revoke", revoke_device, methods=["POST"],
          name="revoke_device"),
]
