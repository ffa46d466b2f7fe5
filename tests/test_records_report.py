"""Programmes, requirements and the term report: the xlsx read back matches counts computed here from the
rosters; the bad-input rules (a requirement naming a course outside the programme, a range with no course)."""

from __future__ import annotations

import io
import re
from collections import defaultdict

import openpyxl
import pytest

from checkin.store.db import transaction
from checkin.text import unit_key

from .conftest import csrf, sign_in
from .records_world import ROSTERS, build


@pytest.fixture
def records(world, client):
    conn = world.conn()
    organiser_id = conn.execute("SELECT id FROM organisers WHERE username = 'lan'").fetchone()[0]
    with transaction(conn):
        s = build(conn, organiser_id, world.clock())
    client.cookies.set("lang", "en")
    sign_in(client)
    return conn, s


def create_programme(client, s) -> int:
    token = csrf(client, f"/bodies/{s.body_id}/programmes")
    answer = client.post(f"/bodies/{s.body_id}/programmes", data={
        "csrf": token, "title": "Nhiệm kỳ 2022–2027", "course": [str(s.course_ids[k]) for k in "ABC"]},
        follow_redirects=False)
    assert answer.status_code == 303, answer.text
    programme_id = int(answer.headers["location"].rsplit("/", 1)[1])
    url = f"/bodies/{s.body_id}/programmes/{programme_id}/requirements"
    assert client.post(url, data={"csrf": token, "label": "Key cadres: course A", "positions": "Bí thư, phó bí  THƯ",
                                  "course": str(s.course_ids["A"])}, follow_redirects=False).status_code == 303
    assert client.post(url, data={"csrf": token, "label": "Two courses", "minimum": "2",
                                  "course": [str(s.course_ids[k]) for k in "ABC"]}, follow_redirects=False).status_code == 303
    return programme_id


def expected_counts():
    """From the rosters and the attendance pattern of records_world.build: every row attends; all but the second
    row of each course are certified."""
    counts = defaultdict(lambda: [0, 0, 0])
    for key, (_day, roster) in ROSTERS.items():
        for index, (_name, unit, *_rest) in enumerate(roster):
            c = counts[(unit_key(unit), key)]
            c[0] += 1
            c[1] += 1
            c[2] += index != 1
    return counts


def test_the_term_report_workbook_matches_counts_computed_from_the_rosters(client, records):
    conn, s = records
    programme_id = create_programme(client, s)
    answer = client.get(f"/bodies/{s.body_id}/report.xlsx", params={"programme": programme_id})
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    found = {}
    for row in rows[2:-1]:
        for i, key in enumerate("ABC"):
            n, a, c = row[1 + 5 * i:4 + 5 * i]
            if n:
                found[(unit_key(row[0]), key)] = [n, a, c]
    assert found == dict(expected_counts())
    total = rows[-1]
    assert total[0] == "Total" and total[-5:-2] == (12, 12, 9)
    assert total[-1] == pytest.approx(0.75)
    positions = {r[0]: r[1:] for r in book.worksheets[2].iter_rows(min_row=2, values_only=True)}
    by_position = defaultdict(lambda: [0, 0, 0])
    for _day, roster in ROSTERS.values():
        for index, (_n, _u, position, *_r) in enumerate(roster):
            by_position[position] = [by_position[position][0] + 1, by_position[position][1] + 1,
                                     by_position[position][2] + (index != 1)]
    assert positions == {k: tuple(v) for k, v in by_position.items()}
    lacking = list(book.worksheets[3].iter_rows(min_row=2, values_only=True))
    assert "Nguyễn Thị Hương" not in {r[1] for r in lacking}
    assert len(lacking) == 8  # everyone but Hương, the two unconfirmed records of Đức and of Trang apart
    nam = [r for r in lacking if r[1] == "Trần Văn Nam"][0]
    assert nam[3] == "Key cadres: course A; Two courses"
    duc = sorted(r[3] for r in lacking if r[1] == "Lê Minh Đức")
    assert duc == ["Key cadres: course A; Two courses", "Two courses"]  # the unconfirmed second record lacks both
    pdf = client.get(f"/bodies/{s.body_id}/report.pdf", params={"programme": programme_id})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.cookies.set("lang", "vi")
    vi = openpyxl.load_workbook(io.BytesIO(client.get(f"/bodies/{s.body_id}/report.xlsx",
                                                      params={"programme": programme_id}).content))
    assert vi.worksheets[0].title != sheet.title


def test_the_report_page_links_each_number_to_the_people_behind_it(client, records):
    conn, s = records
    programme_id = create_programme(client, s)
    page = client.get(f"/bodies/{s.body_id}/report", params={"programme": programme_id})
    assert page.status_code == 200
    assert "<svg" in page.text and 'id="units-courses"' in page.text
    link = re.search(r'href="(/bodies/\d+/report/people\?[^"]*measure=certified&(?:amp;)?course=%d[^"]*)"'
                     % s.course_ids["B"], page.text).group(1).replace("&amp;", "&")
    behind = client.get(link)
    names = re.findall(r'<li><a href="/bodies/\d+/people/\d+">([^<]+)</a>', behind.text)
    assert names and set(names) <= {"Nguyễn Thị Hương", "Lê Minh Đức", "Võ Văn Mới"}
    tai_chinh = conn.execute("SELECT id FROM units WHERE name_key = ?", (unit_key("Đoàn TN Sở Tài chính"),)).fetchone()[0]
    filtered = client.get(f"/bodies/{s.body_id}/report", params={"programme": programme_id, "unit": tai_chinh,
                                                                 "position": "bi thu"})
    assert filtered.status_code == 200
    expected = sum(1 for _d, roster in ROSTERS.values() for _n, unit, position, *_r in roster
                   if unit_key(unit) == unit_key("Đoàn TN Sở Tài chính") and position == "Bí thư")
    assert re.search(r'id="report-totals">Nominated: <a[^>]*>%d</a>' % expected, filtered.text)
    by_range = client.get(f"/bodies/{s.body_id}/report", params={"from": "2026-05-01", "to": "2026-12-31"})
    assert by_range.status_code == 200 and "Lớp bồi dưỡng B" in by_range.text and "Lớp bồi dưỡng A" not in by_range.text


def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(client, records, world):
    conn, s = records
    programme_id = create_programme(client, s)
    other = world.course.id  # a course of another body
    token = csrf(client, f"/bodies/{s.body_id}/programmes")
    before = conn.execute("SELECT COUNT(*) FROM programme_requirements").fetchone()[0]
    url = f"/bodies/{s.body_id}/programmes/{programme_id}"
    assert client.post(url + "/courses", data={"csrf": token, "course": [str(s.course_ids["B"])]}).status_code == 409
    courses_d = client.post(url + "/courses", data={"csrf": token, "course": [str(s.course_ids[k]) for k in "AB"]})
    assert courses_d.status_code == 409  # "Two courses" names C
    token2 = csrf(client, url)
    outside = client.post(url + "/requirements", data={"csrf": token2, "label": "x", "course": str(other)})
    assert outside.status_code == 422 and "only courses of its programme" in outside.text
    too_many = client.post(url + "/requirements", data={"csrf": token2, "minimum": "4",
                                                        "course": [str(s.course_ids[k]) for k in "ABC"]})
    assert too_many.status_code == 422
    assert conn.execute("SELECT COUNT(*) FROM programme_requirements").fetchone()[0] == before
    empty = client.get(f"/bodies/{s.body_id}/report", params={"from": "2020-01-01", "to": "2020-12-31"})
    assert empty.status_code == 422 and "No course of this organising body took place" in empty.text
    xlsx = client.get(f"/bodies/{s.body_id}/report.xlsx", params={"from": "2020-01-01", "to": "2020-12-31"})
    assert xlsx.status_code == 422
    foreign = client.post(f"/bodies/{s.body_id}/programmes", data={"csrf": token, "title": "X", "course": str(other)})
    assert foreign.status_code == 422


def test_the_numbers_per_position_lead_to_their_people(client, records):
    conn, s = records
    programme_id = create_programme(client, s)
    page = client.get(f"/bodies/{s.body_id}/report", params={"programme": programme_id})
    link = re.search(r'href="(/bodies/\d+/report/people\?[^"]*measure=certified&amp;position=Ph[^"]*)"',
                     page.text).group(1).replace("&amp;", "&")
    names = re.findall(r'<li><a href="/bodies/\d+/people/\d+">([^<]+)</a>', client.get(link).text)
    expected = sorted(name for _d, roster in ROSTERS.values() for i, (name, _u, position, *_r) in enumerate(roster)
                      if position == "Phó Bí thư" and i != 1)
    assert sorted(names) == expected
