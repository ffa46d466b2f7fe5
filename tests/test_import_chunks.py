"""A long roster import goes in short transactions: the door's writes get in between its chunks, each chunk sees
the course as it stands, and an import cut short is completed by importing the same file again."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from checkin.course import importing
from checkin.roster import parse_roster
from checkin.store import people
from checkin.store.db import open_database, transaction
from checkin.store.people import PersonDetails

from .conftest import csrf, db_args, rows

UNIT = "Đoàn Thanh niên Sở Xây dựng"


def roster_csv(n: int) -> bytes:
    lines = ["Họ và tên;Đơn vị;Số điện thoại"]
    lines += [f"Cán bộ Số {i:04d};{UNIT};09{i:08d}" for i in range(1, n + 1)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def enrolled(world) -> int:
    return rows(world, "SELECT COUNT(*) FROM enrolments WHERE course_id = ?", world.course.id)[0][0]


def test_a_write_queued_during_an_import_goes_in_between_its_chunks_and_the_next_chunk_sees_it(world):
    parsed = parse_roster(roster_csv(600), "roster.csv")
    now = world.clock()

    async def scenario():
        db = await open_database(world.settings.database)
        loop = asyncio.get_running_loop()
        inside_first_chunk = asyncio.Event()
        queued = threading.Event()

        def first(conn):  # runs on the writer's thread, inside the first chunk's transaction
            loop.call_soon_threadsafe(inside_first_chunk.set)
            assert queued.wait(10)

        def walk_in(conn):
            # A person at the door registered while the import runs, who is also on row 400 of the file.
            seen = people.count_enrolments(conn, world.course.id)
            participant_id = people.insert_participant(conn, PersonDetails("Cán bộ Số 0400", UNIT, phone="0900000400"), now)
            people.enrol(conn, world.course.id, participant_id, now)
            return seen

        try:
            importing_task = asyncio.create_task(importing.import_in_chunks(
                db.write, db.read, world.course.id, parsed.rows, now, first=first, size=250, budget=None))
            await inside_first_chunk.wait()
            walk_in_done = asyncio.ensure_future(db.write(walk_in))  # sent while the first chunk is under way
            await asyncio.sleep(0.05)
            queued.set()
            seen = await walk_in_done
            result = await importing_task
        finally:
            await db.close()
        return seen, result

    seen, result = asyncio.run(scenario())
    if world.settings.uses_postgres:
        assert seen == 4  # written beside the import's first chunk, not after the whole file
    else:
        assert seen == 4 + 250  # queued behind the first chunk only: it had committed, the rest had not
    # Row 400 found the walk-in instead of adding them a second time.
    assert (result.added, result.updated, result.unchanged) == (599, 0, 1)
    assert enrolled(world) == 4 + 600
    assert rows(world, "SELECT COUNT(*) FROM participants WHERE full_name = 'Cán bộ Số 0400'") == [(1,)]


def test_an_import_cut_short_is_completed_by_importing_the_same_file_again(signed_in, world):
    data = roster_csv(600)
    # A server stopped after the first chunk: those rows are in, the rest are not.
    conn = world.conn()
    try:
        parsed = parse_roster(data, "roster.csv")
        progress = importing.start_import(conn, world.course.id)
        with transaction(conn):
            importing.apply_roster_chunk(conn, parsed.rows, progress, world.clock(), size=250)
    finally:
        conn.close()
    assert enrolled(world) == 4 + 250

    page = signed_in.get(f"/courses/{world.course.id}/import")
    assert "import the same file again" in page.text
    location = signed_in.post(f"/courses/{world.course.id}/import", data={"csrf": csrf(signed_in)},
                              files={"roster": ("roster.csv", data, "text/csv")}, follow_redirects=False)
    answer = signed_in.post(location.headers["location"] + "/confirm", data={"csrf": csrf(signed_in)},
                            follow_redirects=False)
    assert answer.status_code == 303 and "added=350&updated=0&unchanged=250" in answer.headers["location"]
    assert enrolled(world) == 4 + 600
    assert rows(world, "SELECT COUNT(DISTINCT p.full_name) FROM enrolments e JOIN participants p ON p.id = e.participant_id"
                " WHERE e.course_id = ?", world.course.id) == [(4 + 600,)]
    assert rows(world, "SELECT detail FROM audit_log WHERE action = 'roster_imported'") == [
        ("added 350, updated 0, unchanged 250, left out 0",)]


def test_a_file_with_problems_writes_nothing_from_the_command_line_before_the_first_chunk(world, tmp_path, capsys):
    from checkin import cli

    path = tmp_path / "roster.csv"
    path.write_bytes(roster_csv(600) + "Không đơn vị;;\n;Đoàn Thanh niên Sở Y tế;\n".encode("utf-8"))
    code = cli.main(["import", str(path), *db_args(world.settings), "--course", str(world.course.id)])
    assert code != 0 and "nothing was imported" in capsys.readouterr().err
    assert enrolled(world) == 4
    path.write_bytes(roster_csv(600))
    assert cli.main(["import", str(path), *db_args(world.settings), "--course", str(world.course.id)]) == 0
    assert enrolled(world) == 4 + 600


def test_a_chunk_run_again_after_its_transaction_was_rolled_back_gives_the_same_import(world):
    # The group commit runs a batch again (with savepoints) when another write in it fails: a chunk may run twice,
    # and its second run must not find the people its rolled-back first run added.
    rows_ = parse_roster(roster_csv(300), "r.csv").rows
    conn = world.conn()
    try:
        progress = importing.start_import(conn, world.course.id)
        for _ in range(2):
            conn.execute("BEGIN")
            first_try = importing.apply_roster_chunk(conn, rows_, progress, world.clock(), size=200)
            conn.execute("ROLLBACK")
            assert first_try.result.added == 200
        while progress.position < len(rows_):
            with transaction(conn):
                progress = importing.apply_roster_chunk(conn, rows_, progress, world.clock(), size=200)
    finally:
        conn.close()
    assert (progress.result.added, progress.result.updated, progress.result.unchanged) == (300, 0, 0)
    assert enrolled(world) == 4 + 300
    assert rows(world, "SELECT COUNT(DISTINCT p.full_name) FROM enrolments e JOIN participants p"
                " ON p.id = e.participant_id WHERE e.course_id = ?", world.course.id) == [(4 + 300,)]


def test_a_chunk_whose_time_runs_out_stops_after_the_row_in_hand_and_the_next_goes_on_from_there(world):
    rows_ = parse_roster(roster_csv(5), "r.csv").rows
    conn = world.conn()
    try:
        progress = importing.start_import(conn, world.course.id)
        positions = []
        while progress.position < len(rows_):
            with transaction(conn):
                progress = importing.apply_roster_chunk(conn, rows_, progress, world.clock(), budget=0)
            positions.append(progress.position)
    finally:
        conn.close()
    assert positions == [1, 2, 3, 4, 5] and progress.result.added == 5
    assert enrolled(world) == 4 + 5


def test_a_row_updating_someone_added_earlier_in_the_same_chunk_finds_them_written(world):
    # A chunk writes its new people together (people.enrol_many): a later row of the chunk about one of them
    # has them written first, and updates the one added, with one enrolment and one badge each.
    # (A file saying so is refused at parsing, as a duplicate row: rows given as such, as apply_roster takes them.)
    data = ("Họ và tên;Đơn vị;Số điện thoại\n"
            f"Cán bộ Mới Một;{UNIT};0911111111\nCán bộ Mới Hai;{UNIT};0922222222\n"
            f"Cán bộ Mới Ba;{UNIT};0944444444\n").encode("utf-8")
    one, two, three = parse_roster(data, "r.csv").rows
    rows_ = [one, two, replace(one, row_number=4, phone="0933333333"), replace(three, row_number=5)]
    conn = world.conn()
    try:
        with transaction(conn):
            result = importing.apply_roster(conn, world.course.id, rows_, world.clock())
    finally:
        conn.close()
    assert (result.added, result.updated, result.unchanged) == (3, 1, 0)
    assert enrolled(world) == 4 + 3
    assert rows(world, "SELECT p.phone FROM participants p JOIN enrolments e ON e.participant_id = p.id"
                " WHERE e.course_id = ? AND p.full_name = 'Cán bộ Mới Một'", world.course.id) == [("0933333333",)]
    assert rows(world, "SELECT COUNT(*) FROM badges b JOIN enrolments e ON e.id = b.enrolment_id"
                " WHERE e.course_id = ? GROUP BY e.id HAVING COUNT(*) <> 1", world.course.id) == []
