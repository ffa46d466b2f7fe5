"""What a first check-in costs PostgreSQL in two shapes of writing, without HTTP in the way: the door as it is,
and scans batched the way SQLite's writer batches them. It measures a design before it is built.

Seeds a course on a throwaway durable PostgreSQL (`checkin migrate`, `checkin demo`), then runs first check-ins
from a few threads, each with a connection of its own, in interleaved rounds:

- **door**: the server's own path for a phone's scan, `scanning.record_scan_optimistic` (the context read with
  the holder and their check-ins, then one guarded write, each committing on its own), and the numbering of the
  committed check-ins (`scans.number_checkins`) in a transaction of its own after every `--batch` of them, as the
  relay does under load;
- **grouped**: `--batch` scans of the door's locked path (`scanning.record_scan_tx`, statement by statement) in
  one transaction, numbered at its end (`scans.number_checkins`): what SQLite's writer does, on PostgreSQL;
- **batched**: `--batch` scans in one transaction: one read of every badge's holder (locked) and their check-ins,
  `rules.decide_scan` for each, the course's event numbers taken for the batch, the scan rows (numbered) in one
  statement and their attendance in another, one commit. The rows written are the door's; the numbering rewrite
  and its transaction are gone. Not in the product: this is the lever measured;
- **floor**: bench/floor_pg_app.py's statements: one lookup of the badge, one insert into a one-index table.

Reports CPU per first check-in of the client threads (psycopg's Python and ours, all in this process) and of
PostgreSQL (the postmaster and its children, from /proc), and wall time, per shape.

    .venv/bin/python bench/pg_write_shapes.py [--participants 6000] [--scans 1200] [--batch 16] [--threads 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

import pgcluster  # noqa: E402
from checkin.clock import from_db, to_db  # noqa: E402
from checkin.door import rules, scanning  # noqa: E402
from checkin.models import BadgeHolder, Checkin  # noqa: E402
from checkin.store import courses, postgres, scans  # noqa: E402
from nonces import uuid7  # noqa: E402
from scan_load import pg_postmaster, pg_setup, tree_cpu  # noqa: E402

_HOLDERS = (
    "SELECT b.code, b.revoked_at, e.id, e.course_id, c.title, p.id, p.full_name, COALESCE(u.name, ''), p.position,"
    " (SELECT json_agg(json_build_array(a.session_id, a.scan_id, a.checked_in_at)) FROM attendance a"
    "  WHERE a.enrolment_id = e.id AND a.status IN ('present', 'late'))"
    " FROM badges b JOIN enrolments e ON e.id = b.enrolment_id JOIN courses c ON c.id = e.course_id"
    " JOIN participants p ON p.id = e.participant_id LEFT JOIN units u ON u.id = p.unit_id"
    " WHERE b.code = ANY(%s) FOR UPDATE OF e"
)
_NONCES = "SELECT nonce FROM scans WHERE device_id = %s AND nonce = ANY(%s)"
_NUMBERS = "UPDATE courses SET event_seq = event_seq + %s WHERE id = %s RETURNING event_seq, rules_version, after_end"
_SCANS = (
    "INSERT INTO scans (course_id, session_id, device_id, enrolment_id, code, method, reason, accepted, nonce,"
    " scanned_at, recorded_at, note, event_seq)"
    " SELECT %s, %s, %s, e, c, 'camera', r, 1, n, t, t, '', s"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) AS x(e, c, r, n, t, s)"
    " RETURNING id, enrolment_id"
)
_ATTENDANCE = (
    "INSERT INTO attendance (enrolment_id, session_id, status, scan_id, checked_in_at, note, updated_at)"
    " SELECT e, %s, st, s, t, '', t FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::text[]) AS x(e, st, s, t)"
)


def pg_cpu(root: int | None) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its children and what it reaped (scan_load.tree_cpu)."""
    return tree_cpu([root]) if root is not None else 0.0


def door_shape(url: str, course_id: int, device_id: int, session_id: int, at, codes: list[str], batch: int) -> None:
    conn = postgres.connect(url)
    try:
        for start in range(0, len(codes), batch):
            for code in codes[start:start + batch]:
                outcome = scanning.record_scan_optimistic(conn, scanning.ScanInput(
                    course_id=course_id, method="camera", code=code, session_id=session_id, nonce=uuid7(),
                    device_id=device_id), at)
                assert outcome.reason == "checked_in", outcome.reason
            with postgres.transaction(conn):
                scans.number_checkins(conn, course_id)
    finally:
        conn.close()


def grouped_shape(url: str, course_id: int, device_id: int, session_id: int, at, codes: list[str], batch: int) -> None:
    conn = postgres.connect(url)
    try:
        for start in range(0, len(codes), batch):
            with conn.raw.transaction():
                for code in codes[start:start + batch]:
                    outcome = scanning.record_scan_tx(conn, scanning.ScanInput(
                        course_id=course_id, method="camera", code=code, session_id=session_id, nonce=uuid7(),
                        device_id=device_id), at)
                    assert outcome.reason == "checked_in", outcome.reason
                scans.number_checkins(conn, course_id)
    finally:
        conn.close()


def batched_shape(url: str, course_id: int, device_id: int, session_id: int, at, codes: list[str], batch: int) -> None:
    conn = postgres.connect(url)
    raw = conn.raw
    try:
        for start in range(0, len(codes), batch):
            part = codes[start:start + batch]
            nonces = [uuid7() for _ in part]
            with raw.transaction():
                holders = {}
                for row in raw.execute(_HOLDERS, (part,)):
                    holder = BadgeHolder(code=row[0], revoked=row[1] is not None, enrolment_id=row[2],
                                         course_id=row[3], course_title=row[4], participant_id=row[5],
                                         full_name=row[6], unit=row[7], position=row[8])
                    checkins = {s: Checkin(scan, from_db(t)) for s, scan, t in row[9] or ()}
                    holders[row[0]] = (holder, checkins)
                assert not raw.execute(_NONCES, (device_id, nonces)).fetchall()
                seq, version, after_end = raw.execute(_NUMBERS, (len(part), course_id)).fetchone()
                sessions, after_end = courses.rules_at_version(conn, course_id, version, after_end)
                session = next(s for s in sessions if s.id == session_id)
                rows = []
                for code in part:
                    holder, checkins = holders[code]
                    decision = rules.decide_scan(badge=holder, course_id=course_id, session=session,
                                                 earlier=checkins.get(session_id), at=at, after_end=after_end)
                    assert decision.reason == "checked_in", decision.reason
                    rows.append((holder.enrolment_id, code, decision.reason))
                first = seq - len(part) + 1
                stamp = to_db(at)
                ids = raw.execute(_SCANS, (
                    course_id, session_id, device_id, [r[0] for r in rows], [r[1] for r in rows],
                    [r[2] for r in rows], nonces, [stamp] * len(rows), list(range(first, seq + 1)))).fetchall()
                by_enrolment = {e: i for i, e in ids}
                raw.execute(_ATTENDANCE, (session_id, [r[0] for r in rows], ["present"] * len(rows),
                                          [by_enrolment[r[0]] for r in rows], [stamp] * len(rows)))
    finally:
        conn.close()


def floor_shape(url: str, codes: list[str]) -> None:
    conn = postgres.connect(url)
    raw = conn.raw
    try:
        for code in codes:
            row = raw.execute("SELECT enrolment_id FROM badges WHERE code = %s", (code,)).fetchone()
            raw.execute("INSERT INTO bench_floor_scans (code, found) VALUES (%s, %s)", (code, row is not None))
    finally:
        conn.close()


def run(threads: int, work, slices: list[list[str]], pg_root: int | None) -> tuple[float, float, float]:
    """Run work(codes) on each slice from its own thread; (wall s, client CPU s, PostgreSQL CPU s)."""
    cpu0, pg0, wall0 = time.process_time(), pg_cpu(pg_root), time.perf_counter()
    running = [threading.Thread(target=work, args=(s,)) for s in slices[:threads]]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return time.perf_counter() - wall0, time.process_time() - cpu0, pg_cpu(pg_root) - pg0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=6_000)
    parser.add_argument("--scans", type=int, default=1_200, help="first check-ins per shape and round")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="checkin-shapes-"))
    os.chmod(workdir, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    url = pgcluster.start(workdir / "pg", durable=True)
    try:
        ready = pg_setup(url, workdir, args.participants, env)
        course_id = ready["course_id"]
        pg_root = pg_postmaster(url)
        conn = postgres.connect(url)
        device_id = conn.execute("SELECT max(id) FROM devices WHERE course_id = ?", (course_id,)).fetchone()[0]
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor_scans"
                     " (id BIGSERIAL PRIMARY KEY, code TEXT NOT NULL, found BOOLEAN NOT NULL)")
        sessions = courses.list_sessions(conn, course_id)
        free = [s for s in sessions if not conn.execute("SELECT 1 FROM attendance WHERE session_id = ? LIMIT 1",
                                                         (s.id,)).fetchone()]
        codes = [r[0] for r in conn.execute(
            "SELECT b.code FROM badges b JOIN enrolments e ON e.id = b.enrolment_id WHERE e.course_id = ?"
            " AND b.revoked_at IS NULL ORDER BY b.code", (course_id,))]
        conn.close()
        need = args.scans * args.rounds
        if len(free) < 3 or len(codes) < need:
            raise SystemExit(f"needs three sessions without attendance and {need} badges: "
                             f"{len(free)} sessions, {len(codes)} badges")
        door_session, grouped_session, batch_session = free[-3], free[-2], free[-1]
        at_door = door_session.starts_at - timedelta(minutes=5)
        at_grouped = grouped_session.starts_at - timedelta(minutes=5)
        at_batch = batch_session.starts_at - timedelta(minutes=5)
        per_thread = args.scans // args.threads
        results: dict[str, list[tuple[float, float, float]]] = {"door": [], "grouped": [], "batched": [], "floor": []}
        for r in range(args.rounds):
            mine = codes[r * args.scans:(r + 1) * args.scans]
            slices = [mine[i * per_thread:(i + 1) * per_thread] for i in range(args.threads)]
            results["door"].append(run(args.threads, lambda s: door_shape(
                url, course_id, device_id, door_session.id, at_door, s, args.batch), slices, pg_root))
            results["grouped"].append(run(args.threads, lambda s: grouped_shape(
                url, course_id, device_id, grouped_session.id, at_grouped, s, args.batch), slices, pg_root))
            results["batched"].append(run(args.threads, lambda s: batched_shape(
                url, course_id, device_id, batch_session.id, at_batch, s, args.batch), slices, pg_root))
            results["floor"].append(run(args.threads, lambda s: floor_shape(url, s), slices, pg_root))
        n = per_thread * args.threads
        print(f"First check-ins on PostgreSQL (durable throwaway server), {args.participants} cadres, "
              f"{args.threads} threads, {n} scans per shape and round, {args.rounds} interleaved rounds, batch "
              f"{args.batch}; {time.strftime('%d %B %Y %H:%M UTC', time.gmtime())}")
        print("  shape      client CPU ms/scan   PostgreSQL CPU ms/scan   wall ms/scan   scans/s  (medians of rounds)")
        for shape, rows in results.items():
            wall = statistics.median(w for w, _c, _p in rows) / n * 1000
            client = statistics.median(c for _w, c, _p in rows) / n * 1000
            pg = statistics.median(p for _w, _c, p in rows) / n * 1000
            print(f"  {shape:9}  {client:18.3f}   {pg:22.3f}   {wall:12.3f}   {1000 / wall:7.0f}")
        conn = postgres.connect(url)
        checked = conn.execute("SELECT count(*) FROM attendance WHERE session_id IN (?, ?, ?)",
                               (door_session.id, grouped_session.id, batch_session.id)).fetchone()[0]
        waiting = conn.execute("SELECT count(*) FROM scans WHERE course_id = ? AND event_pending = 1",
                               (course_id,)).fetchone()[0]
        conn.close()
        print(f"  check: {checked} attendance rows for {3 * n * args.rounds} first check-ins, {waiting} waiting for "
              "a number")
        print(f"\nReproduce: .venv/bin/python bench/pg_write_shapes.py --participants {args.participants} --scans "
              f"{args.scans} --batch {args.batch} --threads {args.threads} --rounds {args.rounds}")
        return 0
    finally:
        pgcluster.stop(workdir / "pg")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
