"""Group check-in (off by default): the leader's badge shows the unit's cadres for the session; each tick is a
check-in through the one scan function (method group, the leader recorded), undone like any other."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import bearer, csrf, rows
from .test_units import add, directory_ids, invited, page_csrf, person, summon, unit_link  # noqa: F401


@pytest.fixture
def unit(signed_in, world, invited):
    """Sở Y tế confirmed three cadres; Lê Thị Một (the first) leads it. The clock: 8:05, the opening."""
    link = unit_link(world, invited["Sở Y tế"])
    for name, phone in (("Lê Thị Một", "0911000001"), ("Ngô Văn Hai", "0911000002"), ("Đỗ Thị Ba", "0911000003")):
        add(signed_in, link, **person(name, phone))
    signed_in.post(f"{link}/confirm", data={"csrf": page_csrf(signed_in, link)})
    world.clock.set(world.clock() + timedelta(minutes=15))
    people = dict(rows(world, "SELECT n.full_name, n.enrolment_id FROM nominees n"))
    codes = dict(rows(world, "SELECT n.full_name, b.code FROM nominees n JOIN badges b ON b.enrolment_id = n.enrolment_id"))
    return {"people": people, "codes": codes, "summoned": invited["Sở Y tế"]}


def group_on(signed_in, world):
    ids = directory_ids(world)
    summon(signed_in, world.course.id, {ids["Sở Y tế"]: 3, ids["Sở Tài chính"]: 2}, group_checkin="1")


def test_group_check_in_is_off_by_default(client, world, unit):
    answer = client.post("/api/v1/groups", json={"code": unit["codes"]["Lê Thị Một"]}, headers=bearer(world.course.token))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "group_checkin_off"


def test_only_the_leaders_badge_opens_the_group(signed_in, world, unit):
    group_on(signed_in, world)
    for code in (unit["codes"]["Ngô Văn Hai"], world.course.codes[0], "not-a-code-at-all"):
        answer = signed_in.post("/api/v1/groups", json={"code": code}, headers=bearer(world.course.token))
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_a_group_leader"
    other = signed_in.post("/api/v1/groups", json={"code": unit["codes"]["Lê Thị Một"]},
                           headers=bearer(world.other.token))
    assert other.status_code in (404, 409)


def test_each_tick_is_a_group_scan_with_its_leader_and_can_be_undone(signed_in, world, unit):
    group_on(signed_in, world)
    leader = unit["codes"]["Lê Thị Một"]
    door = bearer(world.course.token)
    view = signed_in.post("/api/v1/groups", json={"code": f"https://x.example/b/{leader}"}, headers=door).json()
    assert view["unit"] == "Sở Y tế" and view["leader"] == "Lê Thị Một" and view["session"]["title"] == "Khai mạc"
    assert [(c["name"], c["status"]) for c in view["cadres"]] == [
        ("Lê Thị Một", "pending"), ("Ngô Văn Hai", "pending"), ("Đỗ Thị Ba", "pending")]
    hai = unit["people"]["Ngô Văn Hai"]
    tick = signed_in.post("/api/v1/groups/checkins", json={"code": leader, "participant_id": hai, "nonce": "t-1"},
                          headers=door).json()
    assert (tick["accepted"], tick["reason"], tick["participant"]["name"]) == (True, "checked_in", "Ngô Văn Hai")
    again = signed_in.post("/api/v1/groups/checkins", json={"code": leader, "participant_id": hai, "nonce": "t-1"},
                           headers=door).json()
    assert again["replayed"] and again["scan_id"] == tick["scan_id"]
    assert rows(world, "SELECT s.method, s.enrolment_id, g.leader_enrolment_id, s.device_id FROM scans s"
                       " JOIN group_checkins g ON g.scan_id = s.id") == [
        ("group", hai, unit["people"]["Lê Thị Một"], world.course.device_id)]
    # Someone of another unit (or course) cannot be ticked through this leader.
    stranger = signed_in.post("/api/v1/groups/checkins", json={"code": leader, "participant_id": world.course.enrolments[0]},
                              headers=door)
    assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "participant_not_found"
    undo = signed_in.post(f"/api/v1/scans/{tick['scan_id']}/undo", headers=door)
    assert undo.status_code == 200
    assert rows(world, "SELECT COUNT(*) FROM attendance WHERE enrolment_id = ?", hai) == [(0,)]


def test_the_organiser_chooses_another_leader(signed_in, world, unit):
    group_on(signed_in, world)
    cid, summoned = world.course.id, unit["summoned"]
    ba = rows(world, "SELECT id FROM nominees WHERE full_name = 'Đỗ Thị Ba'")[0][0]
    answer = signed_in.post(f"/courses/{cid}/units/{summoned}/leader",
                            data={"csrf": csrf(signed_in, f"/courses/{cid}/units"), "nominee_id": ba},
                            follow_redirects=False)
    assert answer.status_code == 303
    door = bearer(world.course.token)
    assert signed_in.post("/api/v1/groups", json={"code": unit["codes"]["Đỗ Thị Ba"]}, headers=door).status_code == 200
    assert signed_in.post("/api/v1/groups", json={"code": unit["codes"]["Lê Thị Một"]}, headers=door).status_code == 404
