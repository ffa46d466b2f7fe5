"""Limits on guessing passwords and pairing codes: per (user name, address) and per address, a user name under a
distributed attack slowed but never refused from a clean address, and failures shared through the database."""

from __future__ import annotations

import re

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from checkin import sign_in as limits
from checkin.app import create_app
from checkin.store import sign_ins
from checkin.store.db import transaction

from .conftest import csrf, rows, sign_in

ATTACKER = ("203.0.113.5", 40000)
ORGANISER = ("198.51.100.7", 40000)


def client_at(app, address: tuple[str, int]) -> TestClient:
    client = TestClient(app, client=address)
    client.cookies.set("lang", "en")
    return client


@pytest.fixture
def at(world):
    """at(address) -> a browser whose requests reach one server from that address, as they do through the
    documented proxy: uvicorn's own proxy-headers middleware takes the address from X-Forwarded-For."""
    with TestClient(ProxyHeadersMiddleware(create_app(world.settings, clock=world.clock), trusted_hosts="*")) as server:
        opened = []

        def make(address: tuple[str, int]) -> httpx.Client:
            browser = httpx.Client(transport=server._transport, base_url="http://testserver",
                                   headers={"X-Forwarded-For": address[0]}, cookies={"lang": "en"})
            opened.append(browser)
            return browser

        yield make
        for browser in opened:
            browser.close()


def test_wrong_passwords_from_one_address_do_not_lock_the_organiser_out_from_another(at, world):
    attacker, organiser = at(ATTACKER), at(ORGANISER)
    for _ in range(limits.PASSWORD.pair_limit):
        assert sign_in(attacker, "lan", "a wrong guess").status_code == 400
    # The attacker's own address is locked for this name, even with the right password...
    locked = sign_in(attacker, "lan", "correct horse battery")
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    # ...but the organiser at the venue signs in as usual.
    assert sign_in(organiser, "lan", "correct horse battery").status_code == 303
    assert organiser.get("/courses").status_code == 200


def test_one_address_guessing_many_names_is_locked_for_every_name(at, world):
    attacker = at(ATTACKER)
    for n in range(limits.PASSWORD.address_limit):
        assert sign_in(attacker, f"name{n}", "a wrong guess").status_code == 400
    assert sign_in(attacker, "lan", "correct horse battery").status_code == 429
    assert sign_in(at(ORGANISER), "lan", "correct horse battery").status_code == 303


def test_a_distributed_attack_slows_the_name_but_the_right_password_from_a_clean_address_gets_in(at, world):
    for n in range(limits.PASSWORD.name_slow_from + 2):
        assert sign_in(at((f"203.0.113.{n + 10}", 40000)), "lan", "a wrong guess").status_code == 400
    assert rows(world, "SELECT COUNT(DISTINCT address) FROM sign_in_failures WHERE username = 'lan'") == [
        (limits.PASSWORD.name_slow_from + 2,)]
    assert sign_in(at(ORGANISER), "lan", "correct horse battery").status_code == 303


@pytest.mark.parametrize("pair, address, name, refused, slowed", [
    (0, 0, 0, None, False),
    (4, 4, 4, None, False),
    (5, 5, 5, "pair", False),  # five wrong for this name from this address
    (0, 20, 0, "address", False),  # twenty wrong from this address, whatever the names
    (0, 0, 10, None, True),  # a name tried from many addresses: slowed, never refused from a clean one
    (0, 0, 1000, None, True),
    (1, 1, 50, None, True),  # one slip from this address while the name is under attack: still let in
    (2, 2, 50, "pair", True),  # a second one: this address is one of the attackers
])
def test_the_password_rule(pair, address, name, refused, slowed):
    verdict = limits.PASSWORD.verdict(sign_ins.FailureCounts(pair=pair, address=address, name=name))
    assert verdict.refused == refused
    assert (verdict.delay > 0) == slowed
    assert verdict.delay <= limits.PASSWORD.max_delay


def test_the_delay_grows_with_the_attack_and_stops_growing():
    delays = [limits.PASSWORD.verdict(sign_ins.FailureCounts(0, 0, n)).delay for n in (10, 20, 40, 80, 10_000)]
    assert delays == sorted(delays) and delays[0] < delays[-1] == limits.PASSWORD.max_delay


def test_failures_are_shared_by_every_server_on_the_database(world):
    """Two app instances on one database: what one counts, the other refuses (there is no memory of its own)."""
    with client_at(create_app(world.settings, clock=world.clock), ATTACKER) as first, \
            client_at(create_app(world.settings, clock=world.clock), ATTACKER) as second:
        for _ in range(limits.PASSWORD.pair_limit):
            assert sign_in(first, "lan", "a wrong guess").status_code == 400
        assert sign_in(second, "lan", "correct horse battery").status_code == 429


def test_a_lock_ends_with_its_window(at, world):
    attacker = at(ATTACKER)
    for _ in range(limits.PASSWORD.pair_limit):
        sign_in(attacker, "lan", "a wrong guess")
    assert sign_in(attacker, "lan", "correct horse battery").status_code == 429
    world.clock.advance(seconds=limits.WINDOW.total_seconds() + 1)
    assert sign_in(attacker, "lan", "correct horse battery").status_code == 303


def test_a_right_password_forgets_that_address_s_slips_for_that_name_only(at, world):
    organiser = at(ORGANISER)
    for _ in range(limits.PASSWORD.pair_limit - 1):
        sign_in(organiser, "lan", "a slip of the finger")
    sign_in(organiser, "outsider", "a wrong guess")
    assert sign_in(organiser, "lan", "correct horse battery").status_code == 303
    assert rows(world, "SELECT username FROM sign_in_failures") == [("outsider",)]


def test_the_failure_table_is_pruned_as_it_goes_and_capped(world):
    conn = world.conn()
    now = world.clock()
    with transaction(conn):
        for n in range(30):
            sign_ins.insert_failure(conn, "password", f"name{n}", "203.0.113.5", now, window=limits.WINDOW, cap=20)
    assert conn.execute("SELECT COUNT(*) FROM sign_in_failures").fetchone()[0] == 20
    # The newest are kept: the oldest go first.
    assert conn.execute("SELECT MIN(username) FROM sign_in_failures WHERE username LIKE 'name1%'").fetchone()[0] == "name10"
    later = now + limits.WINDOW * 2
    with transaction(conn):
        sign_ins.insert_failure(conn, "password", "late", "203.0.113.5", later, window=limits.WINDOW, cap=20)
    assert [tuple(r) for r in conn.execute("SELECT username FROM sign_in_failures")] == [("late",)]
    conn.close()


# --- the password page and the pairing code share the limits ------------------------------------------------


def change_password(client, current: str):
    return client.post("/account/password", data={"current": current, "password": "một mật khẩu mới hẳn",
                                                  "again": "một mật khẩu mới hẳn",
                                                  "csrf": csrf(client, "/account/password")}, follow_redirects=False)


def test_wrong_current_passwords_lock_that_address_for_sign_in_too_and_no_other(at, world):
    stolen = at(ATTACKER)
    assert sign_in(stolen, "lan", "correct horse battery").status_code == 303
    for _ in range(limits.PASSWORD.pair_limit):
        assert change_password(stolen, "a guess").status_code == 422
    assert change_password(stolen, "correct horse battery").status_code == 429
    assert sign_in(at(ATTACKER), "lan", "correct horse battery").status_code == 429
    assert sign_in(at(ORGANISER), "lan", "correct horse battery").status_code == 303


def pair(client, code: str):
    form = client.get("/usher/pair")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/usher/pair", data={"csrf": token, "code": code, "label": "Cổng A"})


def test_wrong_pairing_codes_lock_that_address_on_every_server(world):
    with client_at(create_app(world.settings, clock=world.clock), ATTACKER) as first, \
            client_at(create_app(world.settings, clock=world.clock), ATTACKER) as second, \
            client_at(create_app(world.settings, clock=world.clock), ORGANISER) as usher:
        for _ in range(limits.PAIRING.address_limit):
            assert pair(first, "ABCDEFGHJK").status_code == 404
        blocked = pair(second, "ABCDEFGHJK")
        assert blocked.status_code == 429 and 'data-code="too_many_attempts"' in blocked.text
        assert pair(usher, "ABCDEFGHJK").status_code == 404, "another address still tries"
    assert rows(world, "SELECT kind, username, address FROM sign_in_failures LIMIT 1") == [
        ("pairing", "", ATTACKER[0])]
