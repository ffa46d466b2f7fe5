"""Time the records across courses at the issue's scale: a body with 40 units, 2,000 cadres and 30 courses over
five years (~60,000 enrolments, 300,000 session statuses). Targets: the term report page < 1 s, its xlsx < 5 s,
a person's record page < 100 ms, a 2,000-row roster imported with matching against all existing people < 5 s
(upload and preview included).

The first 29 courses are enrolled through the store (insert_participant + enrol, so every row is linked by the
real rules); their attendance and certificates are written in bulk (setup, not timed). The 30th course's roster is
imported over HTTP, as an organiser does it, and timed.

Run: .venv/bin/python bench/records.py [--cadres 2000] [--courses 30] [--sessions 5] [--runs 5] [--postgresql]
(--postgresql: the same on a throwaway PostgreSQL server started from the system's binaries, scripts/pgcluster.py)
"""

from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roster_preview import FAMILY, GIVEN, MIDDLE, UNITS  # noqa: E402
from checkin.clock import system_clock, to_db  # noqa: E402
from checkin.store import courses, organisers, people  # noqa: E402
from checkin.store.courses import NewCourse, NewSession  # noqa: E402
from checkin.store.db import open_sync, transaction  # noqa: E402
from checkin.store.people import PersonDetails  # noqa: E402

BODY = "Đoàn Khối các cơ quan thành phố"
POSITIONS = ["Bí thư", "Phó Bí thư", "Ủy viên Ban Thường vụ", "Ủy viên Ban Chấp hành"]


def cadres(n: int, seed: int = 13) -> list[dict]:
    rng = random.Random(seed)
    found = []
    for i in range(n):
        found.append({"name": f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
                      "unit": UNITS[i % len(UNITS)], "position": rng.choice(POSITIONS),
                      "phone": f"09{10_000_000 + i:08d}", "code": f"DV{i:06d}" if i % 2 else ""})
    return found


def spelt(cadre: dict, course: int, rng: random.Random) -> PersonDetails:
    """How a course's roster writes the cadre: now and then without diacritics, a promotion, a new phone."""
    name = cadre["name"]
    if rng.random() < 0.1:
        name = name.lower()
    phone = cadre["phone"] if course < 20 or rng.random() < 0.9 else "08" + cadre["phone"][2:]
    position = "Bí thư" if course > 15 and cadre["position"] == "Phó Bí thư" else cadre["position"]
    return PersonDetails(name, cadre["unit"], position, phone, "", cadre["code"])


def build(db_path, args) -> tuple[int, list[int], int]:
    conn = open_sync(db_path)
    now = system_clock()
    rng = random.Random(5)
    everyone = cadres(args.cadres)
    course_ids = []
    start_day = date(2022, 12, 1)
    with transaction(conn):
        organiser_id = organisers.insert_organiser(conn, "bench", "Bench", "bench password", now)
    for c in range(args.courses - 1):
        day = start_day + timedelta(days=60 * c)
        with transaction(conn):
            course_id = courses.insert_course(conn, NewCourse(f"Lớp bồi dưỡng {c + 1}", day, "Asia/Ho_Chi_Minh",
                                                              organiser_name=BODY), now, organiser_id)
            sessions = [courses.insert_session(conn, course_id, NewSession(
                f"Chuyên đề {s + 1}", datetime(day.year, day.month, day.day, 1 + s, tzinfo=timezone.utc),
                datetime(day.year, day.month, day.day, 1 + s, 50, tzinfo=timezone.utc))) for s in range(args.sessions)]
            enrolments = []
            for cadre in everyone:
                pid = people.insert_participant(conn, spelt(cadre, c, rng), now)
                enrolments.append(people.enrol(conn, course_id, pid, now))
            statuses = []
            for e in enrolments:
                for s, session_id in enumerate(sessions):
                    roll = rng.random()
                    if roll < 0.85:
                        statuses.append((e, session_id, "late" if roll < 0.1 else "present", to_db(now), to_db(now)))
            conn.executemany("INSERT INTO attendance (enrolment_id, session_id, status, checked_in_at, updated_at)"
                             " VALUES (?, ?, ?, ?, ?)", statuses)
            conn.executemany(
                "INSERT INTO certificates (code, course_id, enrolment_id, full_name, unit, sessions_attended,"
                " sessions_total, issued_at) VALUES (?, ?, ?, '', '', ?, ?, ?)",
                [(f"C{course_id}-{e}", course_id, e, args.sessions, args.sessions, to_db(now))
                 for e in enrolments if rng.random() < 0.7])
        course_ids.append(course_id)
        print(f"  course {c + 1}/{args.courses - 1} enrolled", file=sys.stderr, end="\r")
    day = start_day + timedelta(days=60 * (args.courses - 1))
    with transaction(conn):
        last = courses.insert_course(conn, NewCourse(f"Lớp bồi dưỡng {args.courses}", day, "Asia/Ho_Chi_Minh",
                                                     organiser_name=BODY), now, organiser_id)
        body_id = conn.execute("SELECT body_id FROM courses WHERE id = ?", (last,)).fetchone()[0]
    counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("people", "enrolments", "attendance")]
    print(f"\nbuilt: {counts[0]} people, {counts[1]} enrolments, {counts[2]} session statuses", file=sys.stderr)
    conn.close()
    return body_id, course_ids + [last], last


def roster_xlsx(everyone: list[dict]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại", "Mã đoàn viên"])
    for i, c in enumerate(everyone, 1):
        sheet.append([i, c["name"], c["unit"], c["position"], c["phone"], c["code"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def line(what: str, times: list[float], target: float) -> str:
    median = statistics.median(times)
    return (f"{what:<44} median {median * 1000:8.1f} ms, max {max(times) * 1000:8.1f} ms "
            f"(target < {target * 1000:.0f} ms): {'OK' if median < target else 'TOO SLOW'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=2000)
    parser.add_argument("--courses", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgresql", action="store_true", help="on a throwaway PostgreSQL server")
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from checkin.app import create_app
    from checkin.records.merging import Actor
    from checkin.records.programmes import create_programme_tx
    from checkin.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite3"
        pg_folder = None
        if args.postgresql:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
            import pgcluster

            from checkin.store.db import connect, migrate

            pg_folder = Path(tempfile.mkdtemp(prefix="checkin-bench-pg-"))
            db_path = pgcluster.start(pg_folder)
            migrating = connect(db_path)
            migrate(migrating)
            migrating.close()
        started = time.perf_counter()
        body_id, course_ids, last = build(db_path, args)
        build_s = time.perf_counter() - started
        conn = open_sync(db_path)
        with transaction(conn):
            programme_id = create_programme_tx(conn, Actor(None, system_clock()), body_id, "Nhiệm kỳ 2022–2027",
                                               course_ids[:-1])
            conn.execute("INSERT INTO programme_requirements (programme_id, label, positions, position_keys, minimum,"
                         " created_at) VALUES (?, 'Key cadres: 10 courses', '', 'bithu\nphobithu', 10, ?)",
                         (programme_id, to_db(system_clock())))
            requirement_id = conn.execute("SELECT MAX(id) FROM programme_requirements").fetchone()[0]
            conn.executemany("INSERT INTO requirement_courses (requirement_id, course_id) VALUES (?, ?)",
                             [(requirement_id, c) for c in course_ids[:-1]])
        people_before = conn.execute("SELECT COUNT(*) FROM people").fetchone()[0]
        person_id = conn.execute("SELECT person_id FROM participants WHERE person_id IS NOT NULL"
                                 " GROUP BY person_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
        conn.close()
        settings = (Settings(data_dir=Path(tmp), database_url=db_path, secret_key="bench") if args.postgresql
                    else Settings(data_dir=Path(tmp), db=db_path, secret_key="bench"))
        data = roster_xlsx(cadres(args.cadres))
        with TestClient(create_app(settings)) as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": "bench", "password": "bench password", "csrf": token})
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/courses").text).group(1)

            def report_page():
                page = client.get(f"/bodies/{body_id}/report", params={"programme": programme_id})
                assert page.status_code == 200 and "units-courses" in page.text, page.status_code

            def report_xlsx():
                answer = client.get(f"/bodies/{body_id}/report.xlsx", params={"programme": programme_id})
                assert answer.status_code == 200, answer.text[:300]

            def record_page():
                page = client.get(f"/bodies/{body_id}/people/{person_id}")
                assert page.status_code == 200 and "record-course" in page.text

            report_xlsx()  # the document workers start on first use, as on a server that has run for a while
            report_times = timed(report_page, args.runs)
            xlsx_times = timed(report_xlsx, args.runs)
            record_times = timed(record_page, args.runs * 4)

            start = time.perf_counter()
            page = client.post(f"/courses/{last}/import", data={"csrf": token},
                               files={"roster": ("roster.xlsx", data, "application/octet-stream")})
            assert page.status_code == 200 and "preview-links" in page.text, page.status_code
            preview_s = time.perf_counter() - start
            links = re.search(r'id="preview-links">[^<]*', page.text).group(0).split(">", 1)[1]
            location = str(page.url)
            done = client.post(location + "/confirm", data={"csrf": token}, follow_redirects=False)
            assert done.status_code == 303, done.text[:300]
            import_s = time.perf_counter() - start
        conn = open_sync(db_path)
        linked = conn.execute("SELECT COUNT(DISTINCT p.person_id) FROM participants p JOIN enrolments e"
                              " ON e.participant_id = p.id WHERE e.course_id = ?", (last,)).fetchone()[0]
        new = conn.execute("SELECT COUNT(*) FROM people").fetchone()[0] - people_before
        sizes = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("people", "enrolments", "attendance")]
        conn.close()
        if pg_folder is not None:
            pgcluster.stop(pg_folder)
            __import__("shutil").rmtree(pg_folder, ignore_errors=True)

    print(f"store: {'PostgreSQL (throwaway server)' if args.postgresql else 'SQLite'}")
    print(f"data: {len(course_ids)} courses, {sizes[1]} enrolments, {sizes[2]} session statuses, {sizes[0]} people "
          f"records, {len(UNITS)} units (built in {build_s:.0f} s through enrol)")
    print(line(f"term report page (HTTP, {len(course_ids) - 1} courses)", report_times, 1.0))
    print(line("term report xlsx (HTTP, workers warm)", xlsx_times, 5.0))
    print(line(f"a person's record page (HTTP, {len(course_ids) - 1} courses)", record_times, 0.1))
    print(f"{f'import {args.cadres} rows: upload + preview (HTTP)':<44} {preview_s * 1000:8.1f} ms  [{links}]")
    print(f"{f'import {args.cadres} rows: + confirm, enrol and link':<44} {import_s * 1000:8.1f} ms (target < 5000 ms): "
          f"{'OK' if import_s < 5 else 'TOO SLOW'}; {linked} people on the course, {new} new records")
    print("reproduce: .venv/bin/python bench/records.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
