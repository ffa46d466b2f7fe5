"""Every route behind a unit's private link, tried with another unit's link (on this unit's people), a revoked
link, an unknown link and no link: each is refused with its code, shows nothing of the other unit and changes
nothing. Unknown links are rate-limited per address; malformed ones are not even looked up."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from checkin.app import create_app
from checkin.store.db import transaction
from checkin.units import links

from .conftest import rows
from .test_units import add, directory_ids, import_directory, page_csrf, person, summon, summoned_ids, unit_link

# Every unit-link route, with the form it is called with ({nominee} is a nominee of the *other* unit).
UNIT_ROUTES = {
    "GET /u/{secret}": None,
    "POST /u/{secret}/nominees": {"full_name": "Kẻ Lạ", "phone": "0911999999"},
    "POST /u/{secret}/nominees/{nominee_id}": {"action": "remove"},
    "POST /u/{secret}/nominees/{nominee_id}/substitute": {"full_name": "Kẻ Lạ", "phone": "0911999998"},
    "POST /u/{secret}/confirm": {},
    "GET /u/{secret}/badges": None,
    "GET /u/{secret}/badges.pdf": None,
    "GET /u/{secret}/sign-in-sheet.pdf": None,
    "GET /u/{secret}/live": None,
    "GET /u/{secret}/live.json": None,
    "GET /u/{secret}/results.pdf": None,
}


def test_the_list_names_every_unit_link_route(tmp_path):
    from checkin.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, secret_key="k"))
    found = {f"{m} {re.sub(r':int', '', r.path)}" for r in app.routes if isinstance(r, Route)
             and r.path.startswith("/u/") for m in (r.methods or {"GET"}) - {"HEAD"}}
    assert found == set(UNIT_ROUTES)


@pytest.fixture
def two_units(signed_in, world):
    """Sở Y tế nominated and confirmed two cadres (Lê Thị Một, Ngô Văn Hai); Sở Tài chính holds a link too, and
    an older link of Sở Tài chính was revoked."""
    cid = world.course.id
    import_directory(signed_in, cid, "Tên đơn vị\nSở Y tế\nSở Tài chính\n".encode())
    ids = directory_ids(world)
    summon(signed_in, cid, {ids["Sở Y tế"]: 3, ids["Sở Tài chính"]: 2})
    summoned = summoned_ids(world)
    mine = unit_link(world, summoned["Sở Y tế"])
    add(signed_in, mine, **person("Lê Thị Một", "0911000001"))
    add(signed_in, mine, **person("Ngô Văn Hai", "0911000002"))
    signed_in.post(f"{mine}/confirm", data={"csrf": page_csrf(signed_in, mine)})
    revoked = unit_link(world, summoned["Sở Tài chính"])
    conn = world.conn()
    with transaction(conn):
        links.make_link_tx(conn, world.settings.secret_key, summoned["Sở Tài chính"], world.clock())
    conn.close()
    other = unit_link(world, summoned["Sở Tài chính"])
    nominee = rows(world, "SELECT id FROM nominees ORDER BY id")[0][0]
    signed_in.post("/logout", data={"csrf": page_csrf(signed_in, "/courses")})
    signed_in.cookies.set("lang", "en")
    return {"mine": mine, "other": other, "revoked": revoked, "nominee": nominee}


def counts(world) -> dict[str, int]:
    tables = ["nominees", "enrolments", "badges", "unit_substitutions", "audit_log", "summoned_units", "scans"]
    return {t: rows(world, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}


def call(client, key: str, secret_path: str, nominee: int):
    method, path = key.split(" ", 1)
    url = path.replace("/u/{secret}", secret_path).replace("{nominee_id}", str(nominee))
    if method == "GET":
        return client.get(url)
    token = page_csrf(client, "/login")
    return client.post(url, data={"csrf": token, **UNIT_ROUTES[key]})


SECRETS = ["Lê Thị Một", "Ngô Văn Hai", "0911000001", "0911000002"]


@pytest.mark.parametrize("key", list(UNIT_ROUTES))
def test_another_units_link_reaches_nothing_of_this_unit(client, world, two_units, key):
    before = counts(world)
    response = call(client, key, two_units["other"], two_units["nominee"])
    leaked = [s for s in SECRETS if s in response.text]
    assert not leaked, f"{key} through another unit's link showed {leaked}"
    if "{nominee_id}" in key:
        assert response.status_code == 404 and "nominee_not_found" in response.text
    after = counts(world)
    if key == "POST /u/{secret}/nominees":  # the other unit adds to its own list, nothing else
        assert after["nominees"] == before["nominees"] + 1
        assert rows(world, "SELECT m.name FROM nominees n JOIN summoned_units s ON s.id = n.summoned_unit_id"
                           " JOIN member_units m ON m.id = s.member_unit_id WHERE n.full_name = 'Kẻ Lạ'") == [
            ("Sở Tài chính",)]
    elif key == "POST /u/{secret}/confirm":
        assert response.status_code == 422 and "nothing_to_confirm" in response.text
        assert after == before
    else:
        assert after == before, f"{key} through another unit's link wrote {after} (was {before})"


@pytest.mark.parametrize("key", list(UNIT_ROUTES))
def test_a_revoked_link_is_gone(client, world, two_units, key):
    before = counts(world)
    response = call(client, key, two_units["revoked"], two_units["nominee"])
    assert response.status_code == 410 and "unit_link_revoked" in response.text
    assert not [s for s in SECRETS if s in response.text]
    assert counts(world) == before


@pytest.mark.parametrize("key", list(UNIT_ROUTES))
def test_an_unknown_link_is_not_found_and_counted(client, world, two_units, key):
    before = counts(world)
    failures = rows(world, "SELECT COUNT(*) FROM sign_in_failures WHERE username = 'unit link'")[0][0]
    response = call(client, key, "/u/" + "A" * 32, two_units["nominee"])
    assert response.status_code == 404 and "unit_link_not_found" in response.text
    assert counts(world) == before
    assert rows(world, "SELECT COUNT(*) FROM sign_in_failures WHERE username = 'unit link'")[0][0] == failures + 1


@pytest.mark.parametrize("key", list(UNIT_ROUTES))
def test_no_link_or_a_malformed_one_is_not_found(client, world, two_units, key):
    before = counts(world)
    for secret_path in ("/u", "/u/", "/u/short", "/u/" + "é" * 32):
        response = call(client, key, secret_path, two_units["nominee"])
        assert response.status_code in (404, 405), f"{key} at {secret_path}: {response.status_code}"
    assert counts(world) == before
    assert rows(world, "SELECT COUNT(*) FROM sign_in_failures WHERE username = 'unit link'") == [(0,)]


def test_guessing_links_is_stopped_and_the_real_link_still_opens_elsewhere(client, world, two_units):
    for i in range(links.UNIT_LINK.pair_limit):
        assert client.get(f"/u/{i:032d}").status_code == 404
    blocked = client.get("/u/" + "B" * 32)
    assert blocked.status_code == 429 and "too_many_attempts" in blocked.text
    # The limit is per address: the same guessing network is refused even the right link meanwhile.
    assert client.get(two_units["mine"]).status_code == 429


def test_the_units_own_link_opens_its_own_people_only(client, world, two_units):
    page = client.get(two_units["mine"])
    assert page.status_code == 200 and "Lê Thị Một" in page.text
    other = client.get(two_units["other"])
    assert other.status_code == 200 and "Lê Thị Một" not in other.text and "Sở Tài chính" in other.text
