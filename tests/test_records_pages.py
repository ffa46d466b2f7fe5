"""The records pages over HTTP: a person's record (and its xlsx, PDF and JSON), proposals, merge, split, erase,
the participant's own record behind the badge link."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from checkin.store.db import open_sync, transaction

from .conftest import csrf, sign_in
from .records_world import build, person_of


@pytest.fixture
def records(world, client):
    conn = world.conn()
    organiser_id = conn.execute("SELECT id FROM organisers WHERE username = 'lan'").fetchone()[0]
    with transaction(conn):
        s = build(conn, organiser_id, world.clock())
    client.cookies.set("lang", "en")
    sign_in(client)
    return conn, s


def test_the_record_page_shows_every_course_session_late_arrival_and_certificate(client, records):
    conn, s = records
    nam = person_of(conn, s.enrolments["A"][1])
    page = client.get(f"/bodies/{s.body_id}/people/{nam}")
    assert page.status_code == 200
    text = page.text
    assert "Trần Văn Nam" in text and "Lớp bồi dưỡng A" in text and "Lớp bồi dưỡng B" in text
    assert "Lớp bồi dưỡng C" not in text
    assert text.count('class="status-late"') == 2 and text.count('class="status-absent"') == 2
    huong = person_of(conn, s.enrolments["A"][0])
    text = client.get(f"/bodies/{s.body_id}/people/{huong}").text
    assert all(code in text for code in ("CERTA0", "CERTB0", "CERTC0"))
    assert "Phó Bí thư" in text and "15/01/2026" in text and "10/06/2026" in text


def test_the_record_exports_read_back(client, records):
    conn, s = records
    huong = person_of(conn, s.enrolments["A"][0])
    xlsx = client.get(f"/bodies/{s.body_id}/people/{huong}/record.xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    courses = list(book.worksheets[0].iter_rows(min_row=3, values_only=True))
    assert [(r[1], r[3], r[5], r[7]) for r in courses] == [
        ("Lớp bồi dưỡng A", "Phó Bí thư", 3, "CERTA0"), ("Lớp bồi dưỡng B", "Bí thư", 3, "CERTB0"),
        ("Lớp bồi dưỡng C", "Bí thư", 3, "CERTC0")]
    assert len(list(book.worksheets[1].iter_rows(min_row=2))) == 9
    pdf = client.get(f"/bodies/{s.body_id}/people/{huong}/record.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    data = client.get(f"/bodies/{s.body_id}/people/{huong}/data.json")
    assert json.loads(data.text)["person"]["phone"] == "0912345678"
    assert conn.execute("SELECT action FROM audit_log WHERE course_id IS NULL").fetchall()[0][0] == "person_export"


def test_proposals_are_confirmed_or_rejected_from_the_page(client, records):
    conn, s = records
    page = client.get(f"/bodies/{s.body_id}/proposals")
    assert page.text.count('class="card proposal"') == 3
    ids = [int(x) for x in __import__("re").findall(r'id="proposal-(\d+)"', page.text)]
    token = csrf(client, f"/bodies/{s.body_id}/proposals")
    refused = client.post(f"/bodies/{s.body_id}/proposals/{ids[0]}/confirm", data={"csrf": token, "reason": ""}, follow_redirects=False)
    assert refused.status_code == 303  # an empty reason on a confirmation: "confirmed proposal"
    client.post(f"/bodies/{s.body_id}/proposals/{ids[1]}/reject", data={"csrf": token}, follow_redirects=False)
    page = client.get(f"/bodies/{s.body_id}/proposals")
    assert page.text.count('class="card proposal"') == 1
    assert person_of(conn, s.enrolments["B"][2]) == person_of(conn, s.enrolments["A"][2])


def test_merge_of_two_people_on_one_course_is_refused_with_a_clear_message(client, records):
    conn, s = records
    a, b = person_of(conn, s.enrolments["A"][0]), person_of(conn, s.enrolments["A"][1])
    token = csrf(client, f"/bodies/{s.body_id}/people/{a}")
    answer = client.post(f"/bodies/{s.body_id}/people/{a}/merge", data={"csrf": token, "other": str(b), "reason": "x"}, follow_redirects=False)
    assert answer.status_code == 409 and "same course" in answer.text
    assert person_of(conn, s.enrolments["A"][1]) == b


def test_merge_then_split_from_the_page(client, records):
    conn, s = records
    a, c = person_of(conn, s.enrolments["A"][3]), person_of(conn, s.enrolments["C"][1])
    token = csrf(client, f"/bodies/{s.body_id}/people/{a}")
    done = client.post(f"/bodies/{s.body_id}/people/{a}/merge", data={"csrf": token, "other": str(c),
                                                                     "reason": "checked with the unit"}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(f"/bodies/{s.body_id}/people/{a}?done=merged")
    assert "Lớp bồi dưỡng C" in page.text and "checked with the unit" in page.text
    moved = client.get(f"/bodies/{s.body_id}/people/{c}", follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (303, f"/bodies/{s.body_id}/people/{a}")
    merge_id = conn.execute("SELECT id FROM person_merges").fetchone()[0]
    split = client.post(f"/bodies/{s.body_id}/merges/{merge_id}/split", data={"csrf": token, "reason": "namesakes"}, follow_redirects=False)
    assert split.status_code == 303 and split.headers["location"].endswith(f"/people/{c}?done=split")
    assert "Lớp bồi dưỡng C" not in client.get(f"/bodies/{s.body_id}/people/{a}").text


def test_the_participant_sees_only_their_own_record_from_any_badge_link(client, records, world):
    conn, s = records
    for code in (s.codes["A"][0], s.codes["B"][0], s.codes["C"][0]):
        page = client.get(f"/b/{code}/record")
        assert page.status_code == 200
        assert all(c in page.text for c in ("CERTA0", "CERTB0", "CERTC0"))
        others = [n for n in ("Trần Văn Nam", "Lê Minh Đức", "Phạm Thu Trang", "Võ Văn Mới", "CERTA2") if n in page.text]
        assert others == []
        assert "0912345678" not in page.text  # no contact details either
    assert f'href="/b/{s.codes["B"][0]}/record"' in client.get(f"/b/{s.codes['B'][0]}").text
    assert client.get("/b/not-a-badge-code-0000/record").status_code == 404


def test_erase_from_the_page(client, records):
    conn, s = records
    huong = person_of(conn, s.enrolments["A"][0])
    token = csrf(client, f"/bodies/{s.body_id}/people/{huong}")
    assert client.post(f"/bodies/{s.body_id}/people/{huong}/erase", data={"csrf": token, "reason": ""}, follow_redirects=False).status_code == 422
    assert client.post(f"/bodies/{s.body_id}/people/{huong}/erase",
                       data={"csrf": token, "reason": "asked in writing"}, follow_redirects=False).status_code == 303
    page = client.get(f"/bodies/{s.body_id}/people/{huong}")
    assert "Nguyễn Thị Hương" not in page.text and "CERTB0" in page.text


def test_another_bodys_organiser_is_refused(client, records, world):
    conn, s = records
    client.cookies.clear()
    client.cookies.set("lang", "en")
    sign_in(client, "outsider")
    assert client.get(f"/bodies/{s.body_id}/people").status_code == 403


def test_retention_erases_old_contact_details_and_keeps_the_counts(client, records, world):
    conn, s = records
    counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("enrolments", "attendance", "certificates")]
    token = csrf(client, f"/bodies/{s.body_id}/retention")
    bad = client.post(f"/bodies/{s.body_id}/retention", data={"csrf": token, "months": "0"}, follow_redirects=False)
    assert bad.status_code == 422
    # The test clock is 27/11/2026: 6 months back is 27/05/2026, so course A (15/01/2026) is due, B and C are not.
    done = client.post(f"/bodies/{s.body_id}/retention", data={"csrf": token, "months": "6"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("cleared=4")
    phones = conn.execute("SELECT e.course_id, p.phone FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                          " WHERE e.course_id IN (?, ?)", (s.course_ids["A"], s.course_ids["B"])).fetchall()
    assert {c for c, phone in phones if phone} == {s.course_ids["B"]}
    assert [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("enrolments", "attendance", "certificates")] == counts
    huong = person_of(conn, s.enrolments["A"][0])
    assert conn.execute("SELECT phone FROM people WHERE id = ?", (huong,)).fetchone()[0] == "0912345678"  # from C
    assert "retention_apply" in [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE course_id IS NULL")]


def test_a_course_and_its_person_lead_to_the_records(client, records):
    conn, s = records
    course = client.get(f"/courses/{s.course_ids['B']}")
    assert f'href="/courses/{s.course_ids["B"]}/records"' in course.text
    assert client.get(f"/courses/{s.course_ids['B']}/records", follow_redirects=False).headers["location"] == \
        f"/bodies/{s.body_id}/people"
    person = client.get(f"/courses/{s.course_ids['B']}/people/{s.enrolments['B'][0]}")
    assert 'id="training-record"' in person.text
    to = client.get(f"/courses/{s.course_ids['B']}/people/{s.enrolments['B'][0]}/record", follow_redirects=False)
    assert to.headers["location"] == f"/bodies/{s.body_id}/people/{person_of(conn, s.enrolments['A'][0])}"
    assert client.get(f"/courses/{s.course_ids['B']}/people/{s.enrolments['A'][0]}/record").status_code == 404


def test_a_course_is_taken_apart_from_the_record_page(client, records):
    conn, s = records
    huong = person_of(conn, s.enrolments["A"][0])
    page = client.get(f"/bodies/{s.body_id}/people/{huong}")
    assert page.text.count('class="inline no-print detach-form"') == 3
    token = csrf(client, f"/bodies/{s.body_id}/people/{huong}")
    done = client.post(f"/bodies/{s.body_id}/people/{huong}/detach",
                       data={"csrf": token, "enrolment": str(s.enrolments["C"][0]), "reason": "a namesake"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert person_of(conn, s.enrolments["C"][0]) != huong
    assert "person_detach" in [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE course_id IS NULL")]


def test_the_people_list_goes_page_by_page(client, records, world):
    """A body's records outgrow one page: 100 people a page, where the page is and how many, links to the pages
    before and after; a page past the end shows the last, a page that is not a number the first."""
    from checkin.store import people, persons
    from checkin.store.people import PersonDetails

    conn, s = records
    with transaction(conn):
        ids = people.enrol_many(conn, s.course_ids["A"], [
            PersonDetails(f"Học viên {n:03d}", "Đoàn Phường Bến Nghé", "Đoàn viên", f"09000{n:05d}", "", f"M{n:05d}")
            for n in range(230)], world.clock())
        persons.link_participants(conn, s.course_ids["A"], ids, world.clock())
    total = conn.execute("SELECT COUNT(*) FROM people WHERE body_id = ? AND merged_into IS NULL",
                         (s.body_id,)).fetchone()[0]
    assert total > 200
    first = client.get(f"/bodies/{s.body_id}/people")
    assert first.status_code == 200
    assert f"1–100 of {total}" in first.text and first.text.count('href="/bodies/') >= 100
    assert 'rel="next" href="?q=&amp;page=2"' in first.text and 'rel="prev"' not in first.text
    last_page = -(-total // 100)
    last = client.get(f"/bodies/{s.body_id}/people?page={last_page}")
    assert f"{(last_page - 1) * 100 + 1}–{total} of {total}" in last.text and 'rel="next"' not in last.text
    assert client.get(f"/bodies/{s.body_id}/people?page=999").text.count(f"–{total} of {total}") == 1
    assert "1–100 of" in client.get(f"/bodies/{s.body_id}/people?page=abc").text
    seen = set()
    for number in range(1, last_page + 1):
        page = client.get(f"/bodies/{s.body_id}/people?page={number}").text
        seen |= {int(part.split('"')[0]) for part in page.split(f'href="/bodies/{s.body_id}/people/')[1:]}
    assert len(seen) == total  # every person on exactly one page
    found = client.get(f"/bodies/{s.body_id}/people?q=hoc+vien+12")
    assert "Học viên 120" in found.text and "1–10 of 10" in found.text and "pager" not in found.text


def test_the_servers_daily_pass_applies_retention_in_short_writes(records, world, settings):
    """Nobody has to run `checkin records retention`: a running server passes over every body's setting once a
    day (first some minutes after it starts), in writes of a few course records with the door's scans in between;
    a second pass, or a second instance's, finds nothing due."""
    import asyncio

    from checkin.records import retention
    from checkin.store.db import open_database

    conn, s = records
    with transaction(conn):
        conn.execute("UPDATE bodies SET retention_months = 6 WHERE id = ?", (s.body_id,))

    async def passes():
        db = await open_database(settings.database)
        try:
            first = await retention.apply_everywhere(db, world.clock, "Asia/Ho_Chi_Minh", chunk=3)
            again = await retention.apply_everywhere(db, world.clock, "Asia/Ho_Chi_Minh", chunk=3)
            return first, again
        finally:
            await db.close()

    # The test clock is 27/11/2026: course A (15/01/2026) is past 6 months, B and C are not.
    assert asyncio.run(passes()) == (4, 0)
    phones = conn.execute("SELECT e.course_id, p.phone FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                          " WHERE p.phone <> ''").fetchall()
    assert s.course_ids["A"] not in {c for c, _phone in phones} and s.course_ids["B"] in {c for c, _phone in phones}
    chunks = [r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE action = 'retention_apply' ORDER BY id")]
    assert len(chunks) == 2 and chunks[0].startswith("contact details erased from 3 course records")


def test_the_daily_pass_runs_on_its_own(records, world, settings):
    import asyncio

    from checkin.records import retention
    from checkin.store.db import open_database

    conn, s = records
    with transaction(conn):
        conn.execute("UPDATE bodies SET retention_months = 6 WHERE id = ?", (s.body_id,))

    async def serve_a_while():
        db = await open_database(settings.database)
        task = asyncio.create_task(retention.run_daily(db, world.clock, "Asia/Ho_Chi_Minh", first_after=0.05))
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                left = await db.read(lambda c: c.execute(
                    "SELECT COUNT(*) FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                    " WHERE e.course_id = ? AND p.phone <> ''", (s.course_ids["A"],)).fetchone()[0])
                if left == 0:
                    return True
            return False
        finally:
            task.cancel()
            await db.close()

    assert asyncio.run(serve_a_while())


def test_the_proposals_page_says_when_it_shows_only_the_first_pairs(client, records, world):
    """More pairs to confirm than one page shows: the page says how many of how many."""
    from checkin.store import people, persons
    from checkin.store.people import PersonDetails

    conn, s = records
    roster = [PersonDetails(f"Cán bộ {n:03d}", "Đoàn Xã Tân Phú", "Ủy viên", "", "", "") for n in range(505)]
    with transaction(conn):  # the same names and unit on two courses, no phone or member code: a proposal each
        for key in ("B", "C"):
            ids = people.enrol_many(conn, s.course_ids[key], roster, world.clock())
            persons.link_participants(conn, s.course_ids[key], ids, world.clock())
    total = persons.count_open_proposals(conn, s.body_id)
    assert total > 500
    page = client.get(f"/bodies/{s.body_id}/proposals")
    assert page.status_code == 200 and page.text.count('class="card proposal"') == 500
    assert f"The first 500 of {total} pairs" in page.text
