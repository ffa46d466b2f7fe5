"""`checkin people merge/split/erase`, `checkin records export`, `checkin report term`, on both stores."""

from __future__ import annotations

import io
import json

import openpyxl

from checkin.clock import system_clock
from checkin.store.db import transaction

from .records_world import build, person_of
from .test_cli import cli, db, run  # noqa: F401  (the fixture and helpers of the command-line tests)


def scenario(cli):  # noqa: F811
    conn = db(cli)
    with transaction(conn):
        return conn, build(conn, None, system_clock())


def test_people_merge_and_split_from_the_command_line(cli):  # noqa: F811
    conn, s = scenario(cli)
    a, c = person_of(conn, s.enrolments["A"][3]), person_of(conn, s.enrolments["C"][1])
    refused = run(cli, "people", "merge", str(a), str(person_of(conn, s.enrolments["A"][0])), "--reason", "x",
                  check=False)
    assert refused.returncode == 2 and "same course" in refused.stderr
    done = run(cli, "people", "merge", str(a), str(c), "--reason", "checked with the unit")
    merge_id = int(done.stdout.strip())
    assert person_of(conn, s.enrolments["C"][1]) == a
    run(cli, "people", "split", str(merge_id), "--reason", "namesakes")
    assert person_of(conn, s.enrolments["C"][1]) == c


def test_records_export_writes_the_persons_data(cli, tmp_path):  # noqa: F811
    conn, s = scenario(cli)
    huong = person_of(conn, s.enrolments["A"][0])
    data = json.loads(run(cli, "records", "export", "--person", str(huong)).stdout)
    assert [c["certificate"] for c in data["courses"]] == ["CERTA0", "CERTB0", "CERTC0"]
    out = tmp_path / "r.xlsx"
    run(cli, "records", "export", "--person", str(huong), "--format", "xlsx", "--out", str(out), "--lang", "en")
    assert openpyxl.load_workbook(out).worksheets[0].title == "Courses"
    assert run(cli, "records", "export", "--person", "99999", check=False).returncode == 2


def test_report_term_writes_xlsx_and_pdf(cli, tmp_path):  # noqa: F811
    conn, s = scenario(cli)
    with transaction(conn):
        from checkin.records.merging import Actor
        from checkin.records.programmes import create_programme_tx
        programme_id = create_programme_tx(conn, Actor(None, system_clock()), s.body_id, "Nhiệm kỳ 2022–2027",
                                           list(s.course_ids.values()))
    out = tmp_path / "t.xlsx"
    run(cli, "report", "term", "--programme", str(programme_id), "--format", "xlsx", "--out", str(out), "--lang", "en")
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(values_only=True))
    assert rows[-1][0] == "Total" and rows[-1][-5:-2] == (12, 12, 9)
    pdf = tmp_path / "t.pdf"
    run(cli, "report", "term", "--programme", str(programme_id), "--format", "pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    empty = run(cli, "report", "term", "--body", str(s.body_id), "--from", "2020-01-01", "--to", "2020-02-01",
                "--out", str(out), check=False)
    assert empty.returncode == 2 and "no_courses_in_range" in empty.stderr
