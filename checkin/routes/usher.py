"""Usher pages: pairing a phone, the scanner, and the local CA a phone installs to reach us over HTTPS."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..door import pairing
from .. import tls
from ..auth import check_csrf
from ..bodies import SIGN_IN, limit, read_form
from ..errors import Problem
from ..sign_in import PAIRING, client_address
from ..store import pairings
from ..web import render, services

async def scanner(request: Request) -> Response:
    # The page holds no personal data: the phone's token (in its storage) unlocks the API it calls.
    settings = services(request).settings
    return render(request, "usher/scanner.html", {
        "undo_seconds": settings.device_undo_seconds, "sync_grace_minutes": settings.device_sync_grace_minutes,
    })


async def service_worker(request: Request) -> Response:
    # Served from /usher/ with Service-Worker-Allowed, so that its scope is "/usher": the scanner page
    # (and what it loads), not the organiser's pages of the same site.
    path = services(request).settings.static_dir / "js" / "scanner-sw.js"
    return Response(
        path.read_text(encoding="utf-8"), media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/usher"},
    )


async def pair_form(request: Request) -> Response:
    code = request.path_params.get("code") or request.query_params.get("code", "")
    return _no_store(render(request, "usher/pair.html", {
        "code": pairings.format_code(pairings.normalise_code(code[:40])), "label": "", "problem": None,
    }))


async def pair(request: Request) -> Response:
    svc = services(request)
    form = await read_form(request, max_fields=10)
    check_csrf(request, form.get("csrf"))
    code = pairings.normalise_code(str(form.get("code", ""))[:40])
    raw_label = str(form.get("label", ""))[:400]
    address, now = client_address(request), svc.now()
    context = {"code": pairings.format_code(code), "label": raw_label.strip()[:pairing.LABEL_MAX]}
    try:
        if await svc.sign_in.admit(PAIRING, "", address, now):
            raise Problem(429, "too_many_attempts",
                          "Too many wrong pairing codes from this network. Wait a quarter of an hour, then try again.")
        label = pairing.clean_label(raw_label)
        if not code:
            raise Problem(422, "pairing_code_missing", "Type the pairing code the organiser shows.", field="code")
        paired = await svc.db.write(pairing.pair_device_tx, code, label, now)
    except Problem as problem:
        if problem.code == "pairing_code_invalid":
            await svc.sign_in.fail(PAIRING, "", address, now)
        return _no_store(render(request, "usher/pair.html", {**context, "problem": problem}, problem.status))
    # The token goes to the phone once, in the page body (never in a URL), and is kept in its storage.
    return _no_store(render(request, "usher/paired.html", {"paired": paired}))


async def ca_page(request: Request) -> Response:
    settings = services(request).settings
    ca = tls.local_ca(settings)
    has_ca = ca.ca_cert.is_file() and not settings.tls_cert
    return render(request, "usher/ca.html", {
        "has_ca": has_ca,
        "fingerprint": tls.ca_fingerprint(ca.ca_cert) if has_ca else "",
        "secure": request.url.scheme == "https",
    })


async def ca_certificate(request: Request) -> Response:
    settings = services(request).settings
    ca = tls.local_ca(settings)
    if settings.tls_cert or not ca.ca_cert.is_file():
        raise Problem(404, "no_local_ca", "This server does not use its own certificate authority; nothing to install.")
    if request.path_params["fmt"] not in ("crt", "der"):
        raise Problem(404, "not_found", "There is nothing at this address.")
    der = request.path_params["fmt"] == "der"
    body = tls.ca_der(ca.ca_cert) if der else ca.ca_cert.read_bytes()
    # application/x-x509-ca-cert makes Android offer to install it and iOS offer a profile.
    return Response(body, media_type="application/x-x509-ca-cert", headers={
        "Content-Disposition": f'attachment; filename="checkin-ca.{"cer" if der else "crt"}"',
    })


def _no_store(response: Response) -> Response:
    # Pairing pages carry a code or a token: no cache, no back-button copy.
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/usher", scanner, methods=["GET"], name="scanner"),
    Route("/usher/sw.js", service_worker, methods=["GET"], name="scanner_service_worker"),
    Route("/usher/pair", pair_form, methods=["GET"], name="pair_form"),
    Route("/usher/pair", pair, methods=["POST"], name="pair", middleware=limit(SIGN_IN)),
    Route("/p/{code}", pair_form, methods=["GET"], name="pair_short_link"),
    Route("/ca", ca_page, methods=["GET"], name="ca_page"),
    Route("/ca.{fmt:str}", ca_certificate, methods=["GET"], name="ca_certificate"),
]
