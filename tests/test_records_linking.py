"""One person across courses: linking on enrolment (member code, phone, else a proposal), proposals,
merge and split as exact inverses, erasure, and the migration that links existing participants."""

from __future__ import annotations

import pytest

from checkin.errors import Problem
from checkin.records import merging
from checkin.records.merging import Actor
from checkin.records.record import read_record
from checkin.store import courses, imports, organisers, persons
from checkin.store.courses import NewCourse
from checkin.store.db import open_sync, transaction

from .records_world import build, person_of


@pytest.fixture
def scenario(settings, clock):
    conn = open_sync(settings.database)
    with transaction(conn):
        s = build(conn, None, clock())
    yield conn, s
    conn.close()


def proposals(conn, body_id):
    return sorted((p.basis, p.person.full_name, p.other.full_name, p.person.unit == p.other.unit)
                  for p in persons.list_open_proposals(conn, body_id))


def test_the_same_people_spelt_differently_link_as_expected(scenario, clock):
    conn, s = scenario
    e = s.enrolments
    huong = person_of(conn, e["A"][0])
    assert person_of(conn, e["B"][0]) == huong  # phone "+84 912.345.678", name without diacritics, two spaces
    assert person_of(conn, e["C"][0]) == huong
    assert person_of(conn, e["B"][1]) == person_of(conn, e["A"][1])  # member code "dv001", a new phone
    assert person_of(conn, e["B"][2]) != person_of(conn, e["A"][2])  # a changed phone: not merged silently
    assert person_of(conn, e["C"][1]) != person_of(conn, e["A"][3])  # no phone: a proposal, not a link
    assert len({person_of(conn, x) for key in e for x in e[key]}) == 9
    assert proposals(conn, s.body_id) == [
        ("name_unit", "Lê Minh Đức", "Lê Minh Đức", True),
        ("name_unit", "Phạm Thu Trang", "Phạm Thu Trang", True),
        ("phone", "Lý Văn Khác", "Phạm Thu Trang", False),
    ]
    # Details follow the latest course; each course keeps what was true for it (a promotion).
    found = read_record(conn, huong, clock())
    assert (found.person.full_name, found.person.position, found.person.phone) == ("Nguyễn Thị Hương", "Bí thư", "0912345678")
    assert [(r.since.isoformat(), r.position) for r in found.roles] == [("2026-01-15", "Phó Bí thư"), ("2026-06-10", "Bí thư")]
    assert [line.course.full_name for line in found.courses] == ["Nguyễn Thị Hương", "nguyen thi huong", "Nguyễn Thị Hương"]
    assert [line.course.certificate_code for line in found.courses] == ["CERTA0", "CERTB0", "CERTC0"]
    nam = read_record(conn, person_of(conn, e["A"][1]), clock())
    assert [(line.attended, line.late) for line in nam.courses] == [(2, 1), (2, 1)]
    assert [st for _s, st, _t in nam.courses[0].sessions] == ["present", "late", "absent"]


def test_confirming_a_proposal_merges_and_rejecting_keeps_apart(scenario, clock):
    conn, s = scenario
    who = Actor(None, clock())
    open_ = {p.person.full_name: p for p in persons.list_open_proposals(conn, s.body_id)}
    with transaction(conn):
        merging.confirm_tx(conn, who, s.body_id, open_["Lê Minh Đức"].id, "same phone owner, checked by call")
        merging.reject_tx(conn, who, s.body_id, open_["Lý Văn Khác"].id)
    assert person_of(conn, s.enrolments["B"][2]) == person_of(conn, s.enrolments["A"][2])
    assert [p.person.full_name for p in persons.list_open_proposals(conn, s.body_id)] == ["Phạm Thu Trang"]
    duc = read_record(conn, person_of(conn, s.enrolments["A"][2]), clock())
    assert len(duc.courses) == 2 and duc.person.phone == "0902222333"
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE course_id IS NULL ORDER BY id")]
    assert actions == ["person_merge", "proposal_reject"]


TABLES = ("people", "participants", "enrolments", "person_proposals", "badges", "attendance", "certificates", "units")


def snapshot(conn) -> dict[str, list[tuple]]:
    return {t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in TABLES}


def test_a_merge_and_its_split_are_exact_inverses(scenario, clock):
    conn, s = scenario
    trang_a, trang_c = person_of(conn, s.enrolments["A"][3]), person_of(conn, s.enrolments["C"][1])
    before = snapshot(conn)
    who = Actor(None, clock())
    with transaction(conn):
        merge_id = merging.merge_tx(conn, who, s.body_id, trang_a, trang_c, "same person, new unit secretary")
    merged = snapshot(conn)
    assert merged != before
    assert read_record(conn, trang_c, clock()).person.id == trang_a  # the merged record reads as the kept one
    with transaction(conn):
        assert merging.split_tx(conn, who, s.body_id, merge_id, "two people after all") == trang_c
    assert snapshot(conn) == before  # every row of every table that holds people, as it was
    with pytest.raises(Problem) as again:
        with transaction(conn):
            merging.split_tx(conn, who, s.body_id, merge_id, "again")
    assert again.value.code == "already_split"


def test_merging_two_people_of_one_course_is_refused_and_changes_nothing(scenario, clock):
    conn, s = scenario
    before = snapshot(conn)
    a, b = person_of(conn, s.enrolments["A"][0]), person_of(conn, s.enrolments["A"][1])
    for args, code in (((a, b, "x"), "same_course"), ((a, a, "x"), "same_person"), ((a, 99999, "x"), "person_not_found"),
                       ((a, person_of(conn, s.enrolments["C"][3]), "  "), "reason_required")):
        with pytest.raises(Problem) as refused:
            with transaction(conn):
                merging.merge_tx(conn, Actor(None, clock()), s.body_id, *args)
        assert refused.value.code == code
    assert snapshot(conn) == before


def test_erasing_a_person_keeps_the_counts(scenario, clock):
    conn, s = scenario
    huong = person_of(conn, s.enrolments["A"][0])
    with transaction(conn):
        conn.execute("INSERT INTO badge_mailings (enrolment_id, course_id, email, code, status, updated_at)"
                     " VALUES (?, ?, 'huong@example.vn', 'x', 'sent', '2026-01-01')",
                     (s.enrolments["A"][0], s.course_ids["A"]))
    counts = {t: n for t, n in ((t, conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES)}
    with transaction(conn):
        assert merging.erase_tx(conn, Actor(None, clock()), s.body_id, huong, "asked by email") == 3
    assert {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES} == counts
    names = conn.execute("SELECT full_name, phone FROM participants WHERE person_id = ?", (huong,)).fetchall()
    assert [tuple(r) for r in names] == [("", "")] * 3
    found = read_record(conn, huong, clock())
    assert found.person.erased_at is not None and found.person.full_name == "" and len(found.courses) == 3
    assert [line.course.certificate_code for line in found.courses] == ["CERTA0", "CERTB0", "CERTC0"]
    assert conn.execute("SELECT COUNT(*) FROM certificates WHERE full_name = ''").fetchone()[0] == 3
    assert conn.execute("SELECT email FROM badge_mailings").fetchall()[0][0] == ""


def test_erasing_a_person_reaches_their_nominations_and_the_audit_texts(scenario, clock):
    """Where the name and contacts were copied: the unit's nomination of them, the substitution that brought
    them in, and the audit log's texts of their courses (a walk-in, an edit of their details) lose the name;
    another cadre's entries keep theirs."""
    conn, s = scenario
    huong = person_of(conn, s.enrolments["A"][0])
    other = s.enrolments["A"][2]
    former = conn.execute("SELECT full_name FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                          " WHERE e.id = ?", (s.enrolments["A"][0],)).fetchone()[0]
    other_name = conn.execute("SELECT full_name FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                              " WHERE e.id = ?", (other,)).fetchone()[0]
    now = "2026-01-01T00:00:00.000000Z"
    with transaction(conn):
        unit = conn.execute("INSERT INTO member_units (body_id, name, name_key, created_at, updated_at)"
                            " VALUES (?, 'Đoàn Phường 1', 'doan phuong 1', ?, ?) RETURNING id",
                            (s.body_id, now, now)).fetchone()[0]
        summoned = conn.execute("INSERT INTO summoned_units (course_id, member_unit_id, quota, invited_at)"
                                " VALUES (?, ?, 3, ?) RETURNING id", (s.course_ids["A"], unit, now)).fetchone()[0]
        old_nominee = conn.execute(
            "INSERT INTO nominees (summoned_unit_id, full_name, phone, state, enrolment_id, created_at, updated_at)"
            " VALUES (?, ?, '0900000002', 'replaced', ?, ?, ?) RETURNING id",
            (summoned, other_name, other, now, now)).fetchone()[0]
        nominee = conn.execute(
            "INSERT INTO nominees (summoned_unit_id, full_name, phone, email, state, enrolment_id, created_at,"
            " updated_at) VALUES (?, ?, '0912345678', 'huong@example.vn', 'enrolled', ?, ?, ?) RETURNING id",
            (summoned, former, s.enrolments["A"][0], now, now)).fetchone()[0]
        conn.execute("INSERT INTO unit_substitutions (summoned_unit_id, old_nominee_id, new_nominee_id, full_name,"
                     " phone, state, proposed_at) VALUES (?, ?, ?, ?, '0912345678', 'approved', ?)",
                     (summoned, old_nominee, nominee, former, now))
        for detail in (f"{former}; walk-in at the door", f"{other_name}; walk-in at the door"):
            conn.execute("INSERT INTO audit_log (course_id, action, subject, detail, at) VALUES (?, 'walk_in', '', ?, ?)",
                         (s.course_ids["A"], detail, now))
    with transaction(conn):
        merging.erase_tx(conn, Actor(None, clock()), s.body_id, huong, "asked by email")
    nominees = conn.execute("SELECT full_name, phone, email FROM nominees ORDER BY id").fetchall()
    assert [tuple(r) for r in nominees] == [(other_name, "0900000002", ""), ("", "", "")]
    assert [tuple(r) for r in conn.execute("SELECT full_name, phone FROM unit_substitutions")] == [("", "")]
    texts = [r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE action = 'walk_in' ORDER BY id")]
    assert texts == ["(erased); walk-in at the door", f"{other_name}; walk-in at the door"]
    assert not any(former in r[0] for r in conn.execute("SELECT detail FROM audit_log"))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_migration_links_existing_participants_by_the_same_rules(tmp_path, request, dialect):
    """A database from before 0018 with the three rosters: the migration links them as enrol does. (PostgreSQL:
    in a schema of its own, the test session's database being migrated already.)"""
    from checkin.store import postgres as postgres_store
    from checkin.store import sqlite as sqlite_store
    from checkin.store.db import connect, migrate, migration_files
    from .records_world import ROSTERS, BODY
    from checkin.text import clean, fold, unit_key

    if dialect == "postgresql":
        conn = connect(request.getfixturevalue("postgres_url"))
        conn.execute("DROP SCHEMA IF EXISTS before_0018 CASCADE")
        conn.execute("CREATE SCHEMA before_0018")
        conn.execute("SET search_path TO before_0018")
        request.addfinalizer(lambda: conn.close())
        request.addfinalizer(lambda: conn.execute("DROP SCHEMA IF EXISTS before_0018 CASCADE"))
        apply = postgres_store.apply_migration
    else:
        conn = connect(tmp_path / "old.sqlite3")
        apply = sqlite_store.apply_migration
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, script in migration_files(dialect):
        if name < "0018":
            apply(conn, name, script)
    now = "2026-01-01T00:00:00+00:00"
    conn.execute("INSERT INTO bodies (name, created_at) VALUES (?, ?)", (BODY, now))
    enrolments = {}
    for key, (day, roster) in ROSTERS.items():
        course = conn.execute("INSERT INTO courses (title, course_date, organiser_name, time_zone, created_at, body_id)"
                              " VALUES (?, ?, ?, 'Asia/Ho_Chi_Minh', ?, 1) RETURNING id",
                              (key, day.isoformat(), BODY, now)).fetchone()[0]
        enrolments[key] = []
        for name, unit, position, phone, code in roster:
            conn.execute("INSERT INTO units (name, name_key) VALUES (?, ?) ON CONFLICT (name_key) DO NOTHING",
                         (clean(unit), unit_key(unit)))
            unit_id = conn.execute("SELECT id FROM units WHERE name_key = ?", (unit_key(unit),)).fetchone()[0]
            pid = conn.execute(
                "INSERT INTO participants (full_name, name_key, unit_id, position, phone, member_code, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (clean(name), fold(name), unit_id, position, clean(phone), code, now, now)).fetchone()[0]
            enrolments[key].append(conn.execute(
                "INSERT INTO enrolments (course_id, participant_id, created_at) VALUES (?, ?, ?) RETURNING id",
                (course, pid, now)).fetchone()[0])
    assert "0018_people.sql" in migrate(conn)
    e = enrolments
    assert person_of(conn, e["B"][0]) == person_of(conn, e["A"][0]) == person_of(conn, e["C"][0])
    assert person_of(conn, e["B"][1]) == person_of(conn, e["A"][1])
    assert person_of(conn, e["B"][2]) != person_of(conn, e["A"][2])
    assert len({person_of(conn, x) for key in e for x in e[key]}) == 9
    assert proposals(conn, 1) == [("name_unit", "Lê Minh Đức", "Lê Minh Đức", True),
                                  ("name_unit", "Phạm Thu Trang", "Phạm Thu Trang", True)]
    huong = persons.get_person(conn, person_of(conn, e["A"][0]))
    assert (huong.full_name, huong.position, huong.phone) == ("Nguyễn Thị Hương", "Bí thư", "0912345678")
    # New people are numbered after the migrated ones.
    new = conn.execute("INSERT INTO people (body_id, created_at) VALUES (1, '2026-12-01') RETURNING id").fetchone()[0]
    assert new > max(person_of(conn, x) for key in e for x in e[key])
    if dialect == "sqlite":
        conn.close()


def test_a_wrong_automatic_link_is_taken_apart_and_a_merge_puts_it_back(scenario, clock):
    conn, s = scenario
    huong = person_of(conn, s.enrolments["A"][0])
    before = snapshot(conn)
    who = Actor(None, clock())
    with transaction(conn):
        new_id = merging.detach_tx(conn, who, s.body_id, huong, s.enrolments["B"][0], "a namesake sharing the phone")
    assert person_of(conn, s.enrolments["B"][0]) == new_id != huong
    assert len(read_record(conn, huong, clock()).courses) == 2
    with transaction(conn):
        merging.merge_tx(conn, who, s.body_id, huong, new_id, "it was her after all")
    assert person_of(conn, s.enrolments["B"][0]) == huong
    after = snapshot(conn)
    assert after["participants"] == before["participants"]


def test_a_walk_in_is_linked_like_an_import(scenario, clock):
    from checkin.course.corrections import Correction, WalkIn
    from checkin.course.corrections import walk_in_tx
    from checkin.store.people import PersonDetails

    conn, s = scenario
    with transaction(conn):
        enrolment_id, _ = walk_in_tx(conn, Correction(s.course_ids["C"], None, clock()),
                                     WalkIn(PersonDetails("Trần Văn Nam", "Đoàn TN Sở Y tế", "Bí thư", "", "",
                                                          "DV001"), None))
    assert person_of(conn, enrolment_id) == person_of(conn, s.enrolments["A"][1])


def test_the_details_kept_while_linking_equal_a_full_refresh(scenario):
    conn, s = scenario
    before = snapshot(conn)["people"]
    with transaction(conn):
        for (person_id,) in conn.execute("SELECT id FROM people").fetchall():
            persons.refresh_person(conn, person_id)
    assert snapshot(conn)["people"] == before


def test_the_same_name_and_phone_under_another_member_code_is_asked_not_linked(scenario, clock):
    from checkin.store import people
    from checkin.store.people import PersonDetails

    conn, s = scenario
    with transaction(conn):
        pid = people.insert_participant(conn, PersonDetails("Trần Văn Nam", "Đoàn TN Sở Y tế", "Bí thư", "0999999999",
                                                            "", "DV002"), clock())
        enrolment_id = people.enrol(conn, s.course_ids["C"], pid, clock())
    nam = person_of(conn, s.enrolments["A"][1])
    assert person_of(conn, enrolment_id) != nam
    asked = [(p.basis, p.other.id) for p in persons.list_open_proposals(conn, s.body_id)
             if p.person.id == person_of(conn, enrolment_id)]
    assert asked == [("phone", nam)]


def test_erasing_a_person_discards_the_body_s_roster_uploads_waiting_to_be_confirmed(scenario, clock):
    """A roster file between its preview and its confirmation is kept whole, and the person being erased may be in
    it: the body's waiting uploads are discarded (their organisers upload them again), another body's stay, and
    the audit entry says how many."""
    conn, s = scenario
    huong = person_of(conn, s.enrolments["A"][0])
    with transaction(conn):
        organiser = organisers.insert_organiser(conn, "lan", "Nguyễn Lan", "correct horse battery", clock())
        elsewhere = courses.insert_course(conn, NewCourse(title="Lớp của tỉnh khác", course_date=clock().date(),
                                                          time_zone="Asia/Ho_Chi_Minh",
                                                          organiser_name="Tỉnh đoàn Khác"), clock(), organiser)
        waiting = [imports.insert_pending_import(conn, s.course_ids[c], organiser, "danh-sach.xlsx",
                                                 "Nguyễn Thị Hương;0912345678".encode(), clock()) for c in ("A", "C")]
        kept = imports.insert_pending_import(conn, elsewhere, organiser, "khac.xlsx", b"x", clock())
    with transaction(conn):
        merging.erase_tx(conn, Actor(None, clock()), s.body_id, huong, "asked by email")
    assert [imports.get_pending_import(conn, i) for i in waiting] == [None, None]
    assert imports.get_pending_import(conn, kept) is not None
    detail = conn.execute("SELECT detail FROM audit_log WHERE action = 'person_erase'").fetchone()[0]
    assert "2 roster upload(s) waiting to be confirmed discarded." in detail
