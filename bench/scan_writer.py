"""The SQLite writer's share of a first check-in, and what the synced commit costs, without HTTP in the way.

Seeds a course (`checkin demo`), then runs first check-ins through the server's own write path in batches through
`store.sqlite._run_batch`, as the group commit does, on three copies of the database, in interleaved rounds:

- the door's scans gathered into one `door/batch.decide_batch` per batch, as served, with the sync in the commit
  (`synchronous=FULL`: the WAL is synced at every commit, so an acknowledged scan survives a power cut; the server
  syncs the same log on a thread of its own behind the writer, store/sqlite.py `_sync_loop`, which costs the
  writer's thread the sync's wait but not its bytes);
- scan by scan (`scanning.record_scan_tx` for each scan, as the door wrote them before its batches), synced;
- scan by scan with `synchronous=NORMAL` (no sync at commit: what durability costs).

Reports the writer's CPU and wall time per first check-in, statements per check-in, and the sync's cost per batch.

    .venv/bin/python bench/scan_writer.py [--participants 20000] [--scans 8000] [--batch 16] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from checkin.clock import system_clock  # noqa: E402
from checkin.door import batch as door_batch  # noqa: E402
from checkin.door import rules, scanning  # noqa: E402
from checkin.store import courses  # noqa: E402
from checkin.store import sqlite as store  # noqa: E402
from nonces import uuid7  # noqa: E402


MODES = ("BATCH", "FULL", "NORMAL")
LABELS = {"BATCH": "gathered, synchronous=FULL (the served batch)", "FULL": "scan by scan, synchronous=FULL",
          "NORMAL": "scan by scan, synchronous=NORMAL (no sync)"}


@dataclass
class Job:  # the shape store.sqlite._run_batch runs
    fn: object
    args: tuple
    future: object = None
    result: object = None
    error: BaseException | None = None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=8_000, help="first check-ins per mode")
    parser.add_argument("--batch", type=int, default=16, help="scans per group commit (the door sees 10-30)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
    seed = folder / "seed.sqlite3"
    subprocess.run([sys.executable, "-m", "checkin", "demo", "--participants", str(args.participants), "--db",
                    str(seed)], capture_output=True, check=True, cwd=ROOT, env={**os.environ, "CHECKIN_DATA_DIR": str(folder)})
    conns = {}
    for mode in MODES:
        path = folder / f"{mode.lower()}.sqlite3"
        with sqlite3.connect(seed) as source, sqlite3.connect(path) as target:
            source.backup(target)
        conn = store.connect(path)  # the server's pragmas (synchronous=FULL) ...
        if mode == "NORMAL":
            conn.execute("PRAGMA synchronous=NORMAL")  # ... or none of the sync
        conns[mode] = conn
    conn = conns["FULL"]
    device_id, course_id = conn.execute("SELECT id, course_id FROM devices ORDER BY id LIMIT 1").fetchone()
    sessions, _ = courses.get_rules(conn, course_id)
    session = rules.pick_session(sessions, system_clock())
    codes = [r[0] for r in conn.execute(
        "SELECT code FROM badges WHERE revoked_at IS NULL AND enrolment_id NOT IN"
        " (SELECT enrolment_id FROM attendance WHERE session_id = ?) ORDER BY code LIMIT ?",
        (session.id, args.scans + 320))]
    if len(codes) < args.scans + 320:
        raise SystemExit("not enough cadres for that many scans: raise --participants")

    statements = {mode: 0 for mode in MODES}
    for mode in MODES:
        conns[mode].set_trace_callback(lambda sql, mode=mode: statements.__setitem__(mode, statements[mode] + 1))

    def jobs(mode: str, chunk: list[str]) -> list[Job]:
        now = system_clock()
        scans = [scanning.ScanInput(course_id=course_id, method="camera", code=code, nonce=uuid7(),
                                    device_id=device_id) for code in chunk]
        if mode == "BATCH":  # what the writer makes of the door's jobs queued together (store/sqlite.py)
            return [Job(door_batch.decide_batch, ([(scan, now) for scan in scans],))]
        return [Job(scanning.record_scan_tx, (scan, now)) for scan in scans]

    def answers(batch: list[Job]) -> list:
        return [a for j in batch for a in (j.result if isinstance(j.result, list) else [j.result])]

    def run(mode: str, chunk: list[str]) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(0, len(chunk), args.batch):
            batch = jobs(mode, chunk[i:i + args.batch])
            store._run_batch(conns[mode], batch)
            errors = [j.error for j in batch if j.error is not None]
            if errors or any(a is None or a.reason != "checked_in" for a in answers(batch)):
                raise SystemExit(f"a first check-in was not accepted: {errors or answers(batch)}")
        return time.process_time() - cpu, time.perf_counter() - wall

    for mode in conns:  # warm the caches alike
        run(mode, codes[:320])
    results = {mode: [] for mode in conns}
    size = args.scans // args.rounds
    per_scan_statements = {}
    for r in range(args.rounds):
        chunk = codes[320 + r * size: 320 + (r + 1) * size]
        for mode in conns:
            statements[mode] = 0
            results[mode].append(run(mode, chunk))
            if r == 0:
                per_scan_statements[mode] = statements[mode] / len(chunk)
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    for conn in conns.values():
        conn.close()
    shutil.rmtree(folder, ignore_errors=True)

    print(f"\nThe writer's share of a first check-in ({args.participants} cadres, batches of {args.batch}, "
          f"{args.rounds} interleaved rounds of {size}; load average {load}):")
    summary = {}
    for mode, parts in results.items():
        cpu = statistics.median(c / size * 1000 for c, _ in parts)
        wall = statistics.median(w / size * 1000 for _, w in parts)
        summary[mode] = (cpu, wall)
        print(f"  {LABELS[mode]:<46} CPU {cpu:6.3f} ms  wall {wall:6.3f} ms per first check-in (median of rounds), "
              f"{per_scan_statements[mode]:.1f} statements")
    print("  (statements per first check-in: BEGIN and COMMIT shared by the batch)")
    sync = (summary["FULL"][1] - summary["NORMAL"][1]) * args.batch
    print(f"  the sync (scan by scan): {sync:.2f} ms of wall time per batch of {args.batch}, "
          f"{sync / args.batch:.3f} ms per scan; CPU with it {summary['FULL'][0]:.3f} ms, without {summary['NORMAL'][0]:.3f} ms")
    print(f"\nReproduce: .venv/bin/python bench/scan_writer.py --participants {args.participants} --scans {args.scans} "
          f"--batch {args.batch} --rounds {args.rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
