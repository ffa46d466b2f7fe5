"""Pairing usher phones, the organiser's devices page, the door's counter, and the local CA, over HTTP."""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509

from checkin import tls
from checkin.settings import SettingsError
from checkin.sign_in import PAIRING
from checkin.store import pairings

from .conftest import bearer, local, sign_in

LINK = re.compile(r'id="pairing-link" href="([^"]+)"')


def csrf_of(page_text: str) -> str:
    return page_text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def make_pairing(client, course_id: int, lifetime: int = 30, max_uses: int = 5) -> str:
    """Sign in, make a pairing QR on the devices page, return its code (as the QR's link ends)."""
    sign_in(client)
    page = client.get(f"/courses/{course_id}/devices")
    answer = client.post(f"/courses/{course_id}/devices/pairings",
                         data={"csrf": csrf_of(page.text), "lifetime": str(lifetime), "max_uses": str(max_uses)})
    assert answer.status_code == 200 and answer.url.path == f"/courses/{course_id}/devices"
    return LINK.search(answer.text).group(1).rsplit("/p/", 1)[1]


def pair(client, code: str, label: str = "Cổng A – Lan"):
    form = client.get(f"/p/{code}")
    return client.post("/usher/pair", data={"csrf": csrf_of(form.text), "code": code, "label": label})


def token_of(answer) -> str:
    block = answer.text.split('id="device-token">', 1)[1].split("</script>", 1)[0]
    return json.loads(block)["token"]


def rows(world, sql: str, *args):
    conn = world.conn()
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


# --- pairing ------------------------------------------------------------------------------------


def test_pairing_qr_shows_a_short_link_once_and_stores_only_a_hash(client, world):
    code = make_pairing(client, world.course.id)
    assert re.fullmatch(r"[A-Z2-9]{10}", code)
    [stored] = rows(world, "SELECT * FROM pairings")
    assert stored["secret_hash"] == pairings.hash_code(code) and code not in json.dumps(stored)
    assert (stored["course_id"], stored["max_uses"], stored["uses"]) == (world.course.id, 5, 0)
    again = client.get(f"/courses/{world.course.id}/devices")
    assert code not in again.text and 'id="pairing-qr"' not in again.text
    assert rows(world, "SELECT action FROM audit_log WHERE action = 'create_pairing'")


def test_phone_redeems_the_code_for_a_device_valid_to_the_end_of_the_course_day(client, world):
    code = make_pairing(client, world.course.id)
    form = client.get(f"/p/{code}")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert f'value="{pairings.format_code(code)}"' in form.text

    answer = pair(client, code, "  Cổng A –  Lan ")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    token = token_of(answer)
    [device] = rows(world, "SELECT * FROM devices WHERE label = ?", "Cổng A – Lan")
    assert device["course_id"] == world.course.id and token not in json.dumps(device)
    end_of_day = datetime(2026, 11, 28, 0, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert device["expires_at"] == end_of_day.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    me = client.get("/api/v1/device", headers=bearer(token)).json()
    assert me["device"]["label"] == "Cổng A – Lan" and me["course"]["id"] == world.course.id
    assert rows(world, "SELECT uses FROM pairings")[0]["uses"] == 1
    assert rows(world, "SELECT device_id FROM audit_log WHERE action = 'pair_device'")[0]["device_id"] == device["id"]


def test_code_typed_in_lower_case_with_spaces_and_dashes_still_pairs(client, world):
    code = make_pairing(client, world.course.id)
    typed = " " + "-".join([code[:4].lower(), code[4:8], code[8:]]) + " "
    assert pair(client, typed).status_code == 200


@pytest.mark.parametrize("case, status, reason", [
    ("expired", 410, "pairing_expired"),
    ("used up", 410, "pairing_used"),
    ("cancelled", 410, "pairing_revoked"),
    ("unknown", 404, "pairing_code_invalid"),
])
def test_pairing_refusals_make_no_device(case, status, reason, client, world):
    code = make_pairing(client, world.course.id, lifetime=10, max_uses=1)
    if case == "expired":
        world.clock.advance(minutes=10)
    elif case == "used up":
        assert pair(client, code, "Cổng B").status_code == 200
    elif case == "cancelled":
        page = client.get(f"/courses/{world.course.id}/devices")
        pairing_id = rows(world, "SELECT id FROM pairings")[0]["id"]
        client.post(f"/courses/{world.course.id}/devices/pairings/{pairing_id}/cancel", data={"csrf": csrf_of(page.text)})
    elif case == "unknown":
        code = "ABCDEFGHJK"
    before = rows(world, "SELECT COUNT(*) AS n FROM devices")[0]["n"]

    answer = pair(client, code, "Cổng C")
    assert answer.status_code == status
    assert f'data-code="{reason}"' in answer.text
    assert rows(world, "SELECT COUNT(*) AS n FROM devices")[0]["n"] == before


def test_refusal_is_shown_in_vietnamese(client, world):
    client.cookies.set("lang", "vi")
    answer = pair(client, "ABCDEFGHJK")
    assert "Mã ghép nối không hợp lệ" in answer.text


def test_wrong_codes_are_rate_limited(client, world):
    code = make_pairing(client, world.course.id)
    for _ in range(PAIRING.address_limit):
        assert pair(client, "ABCDEFGHJK").status_code == 404
    blocked = pair(client, code)
    assert blocked.status_code == 429 and 'data-code="too_many_attempts"' in blocked.text
    assert rows(world, "SELECT uses FROM pairings")[0]["uses"] == 0


@pytest.mark.parametrize("label, reason", [("   ", "label_missing"), ("x" * 81, "label_too_long"),
                                           ("Cổng\x07A", "invalid_field")])
def test_phone_needs_a_sensible_label(label, reason, client, world):
    code = make_pairing(client, world.course.id)
    answer = pair(client, code, label)
    assert answer.status_code == 422 and f'data-code="{reason}"' in answer.text
    assert rows(world, "SELECT uses FROM pairings")[0]["uses"] == 0


def test_pairing_form_without_csrf_is_refused(client, world):
    code = make_pairing(client, world.course.id)
    answer = client.post("/usher/pair", data={"code": code, "label": "Cổng A"})
    assert answer.status_code == 403
    assert rows(world, "SELECT uses FROM pairings")[0]["uses"] == 0


# --- the organiser's devices page ----------------------------------------------------------------


def test_devices_page_needs_a_signed_in_organiser_of_the_course(client, world):
    answer = client.get(f"/courses/{world.course.id}/devices", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.post(f"/courses/{world.course.id}/devices/pairings",
                       data={"lifetime": "30", "max_uses": "5"}).status_code == 401
    sign_in(client, "outsider")
    assert client.get(f"/courses/{world.course.id}/devices").status_code == 403
    page = client.get("/courses")
    answer = client.post(f"/courses/{world.course.id}/devices/pairings",
                         data={"csrf": csrf_of(page.text), "lifetime": "30", "max_uses": "5"})
    assert answer.status_code == 403 and rows(world, "SELECT * FROM pairings") == []


def test_devices_page_lists_phones_with_last_seen_and_check_ins(client, world):
    world.clock.set(local(7, 55))
    client.post("/api/v1/scans", json={"code": world.course.codes[0], "method": "camera"},
                headers=bearer(world.course.token))
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/devices")
    row = page.text.split(f'data-device-id="{world.course.device_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Cổng A" in row and "27/11 07:55" in row and "<td>1</td>" in row


def test_unpairing_a_phone_refuses_its_very_next_request(client, world):
    token = world.course.token
    assert client.get("/api/v1/device", headers=bearer(token)).status_code == 200  # now in the token cache
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/devices")
    answer = client.post(f"/courses/{world.course.id}/devices/{world.course.device_id}/revoke",
                         data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 200
    assert client.get("/api/v1/device", headers=bearer(token)).json()["error"]["code"] == "device_revoked"
    assert rows(world, "SELECT revoked_at FROM devices WHERE id = ?", world.course.device_id)[0]["revoked_at"]
    assert rows(world, "SELECT organiser_id FROM audit_log WHERE action = 'revoke_device'")


def test_an_organiser_cannot_unpair_another_course_s_phone(client, world):
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}/devices")
    other_device = rows(world, "SELECT id FROM devices WHERE course_id = ?", world.other.id)[0]["id"]
    answer = client.post(f"/courses/{world.course.id}/devices/{other_device}/revoke", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 404
    assert rows(world, "SELECT revoked_at FROM devices WHERE id = ?", other_device)[0]["revoked_at"] is None


# --- pages and the counter ----------------------------------------------------------------------


def test_scanner_page_carries_its_strings_and_no_personal_data(client, world):
    page = client.get("/usher")
    assert page.status_code == 200
    strings = json.loads(page.text.split('id="usher-strings">', 1)[1].split("</script>", 1)[0])
    assert strings["lang"] == "vi" and strings["already_at"] == "Đã điểm danh lúc {time}"
    assert "Nguyễn" not in page.text
    assert '<script type="module" src="/static/js/scanner.js">' in page.text


def test_session_count_counts_everyone_and_this_device(client, world):
    world.clock.set(local(7, 55))
    session = world.course.sessions[0]
    for code, token in [(world.course.codes[0], world.course.token), (world.course.codes[1], world.course.other_token),
                        (world.course.codes[0], world.course.other_token)]:
        client.post("/api/v1/scans", json={"code": code, "method": "camera"}, headers=bearer(token))
    answer = client.get(f"/api/v1/sessions/{session}/count", headers=bearer(world.course.token))
    assert answer.json() == {"session_id": session, "checked_in": 2, "this_device": 1}


@pytest.mark.parametrize("who, status, code", [
    ("no token", 401, "device_token_missing"),
    ("other course's session", 404, "unknown_session"),
])
def test_session_count_refusals(who, status, code, client, world):
    headers = {} if who == "no token" else bearer(world.course.token)
    answer = client.get(f"/api/v1/sessions/{world.other.sessions[0]}/count", headers=headers)
    assert answer.status_code == status and answer.json()["error"]["code"] == code


def test_openapi_documents_the_count_endpoint(client):
    assert "/api/v1/sessions/{session_id}/count" in client.get("/api/v1/openapi.json").json()["paths"]


# --- HTTPS: the local CA --------------------------------------------------------------------------


def test_ca_page_without_a_local_ca_has_nothing_to_install(client):
    assert 'id="ca-none"' in client.get("/ca").text
    assert client.get("/ca.crt").status_code == 404


def test_ca_page_offers_the_certificate_and_its_fingerprint(client, world):
    tls.ensure_certificate(world.settings, names=["localhost", "laptop.local"], addresses=["192.168.1.20", "127.0.0.1"])
    ca = tls.local_ca(world.settings)
    page = client.get("/ca")
    assert tls.ca_fingerprint(ca.ca_cert) in page.text and "VPN" in page.text
    pem = client.get("/ca.crt")
    assert pem.headers["content-type"] == "application/x-x509-ca-cert" and pem.content == ca.ca_cert.read_bytes()
    der = client.get("/ca.der")
    assert x509.load_der_x509_certificate(der.content).subject == x509.load_pem_x509_certificate(pem.content).subject
    assert client.get("/ca.key").status_code == 404


def test_local_ca_signs_a_server_certificate_for_the_lan_addresses(tmp_path, settings):
    now = datetime(2026, 11, 27, tzinfo=ZoneInfo("UTC"))
    cert_path, key_path = tls.ensure_certificate(settings, names=["localhost", "laptop.local"],
                                                 addresses=["192.168.1.20", "127.0.0.1"], now=now)
    ca = tls.local_ca(settings)
    server = x509.load_pem_x509_certificate(cert_path.read_bytes())
    root = x509.load_pem_x509_certificate(ca.ca_cert.read_bytes())
    server.verify_directly_issued_by(root)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "laptop.local"}
    assert {str(a) for a in san.get_values_for_type(x509.IPAddress)} == {"192.168.1.20", "127.0.0.1"}
    assert server.not_valid_after_utc - now <= timedelta(days=398)  # what iOS accepts
    assert root.extensions.get_extension_for_class(x509.NameConstraints).critical
    for private in (key_path, ca.ca_key):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_server_certificate_is_kept_until_the_addresses_change(settings):
    names = ["localhost"]
    first = tls.ensure_certificate(settings, names=names, addresses=["192.168.1.20"])[0].read_bytes()
    ca_before = tls.local_ca(settings).ca_cert.read_bytes()
    assert tls.ensure_certificate(settings, names=names, addresses=["192.168.1.20"])[0].read_bytes() == first
    moved = tls.ensure_certificate(settings, names=names, addresses=["10.0.0.7"])[0].read_bytes()
    assert moved != first and tls.local_ca(settings).ca_cert.read_bytes() == ca_before


def test_operator_certificate_is_used_as_given(tmp_path, settings):
    from dataclasses import replace

    cert, key = tmp_path / "site.crt", tmp_path / "site.key"
    cert.write_text("cert")
    key.write_text("key")
    assert tls.ensure_certificate(replace(settings, tls_cert=cert, tls_key=key)) == (cert, key)
    with pytest.raises(SettingsError):
        tls.ensure_certificate(replace(settings, tls_cert=tmp_path / "missing.crt", tls_key=key))
    assert not tls.local_ca(settings).folder.exists()


def test_pairing_link_uses_the_public_url_when_one_is_set(world):
    from dataclasses import replace

    from starlette.testclient import TestClient

    from checkin.app import create_app

    settings = replace(world.settings, base_url="https://checkin.example.org/")
    with TestClient(create_app(settings, clock=world.clock)) as client:
        sign_in(client)
        page = client.get(f"/courses/{world.course.id}/devices")
        answer = client.post(f"/courses/{world.course.id}/devices/pairings",
                             data={"csrf": csrf_of(page.text), "lifetime": "10", "max_uses": "1"})
        assert LINK.search(answer.text).group(1).startswith("https://checkin.example.org/p/")
        assert 'id="not-secure"' not in answer.text and 'id="local-only"' not in answer.text
