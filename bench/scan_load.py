"""Load on POST /api/v1/scans, against the floor of a bare Starlette endpoint on the same database.

SQLite (default): starts `checkin serve` as a separate process on a course of 20,000 cadres (`checkin demo`),
drives it at concurrency 32 with distinct badges (first check-ins), the same badges again (duplicates) and
unknown codes, and drives bench/floor_app.py (one lookup, one insert, one commit) the same way, in interleaved
rounds. `--sqlite-sync normal` runs the server without syncing its commits, as the floor runs: the cost of the sync.

PostgreSQL (`--database-url URL`, or `--postgres` for a throwaway durable server from scripts/pgcluster.py):
`checkin migrate`, a demo course, then `--instances` (1 or 2) `checkin serve` processes on that database with the
scans spread over them (a repeat always goes to the other instance than its first scan), beside as many
bench/floor_pg_app.py processes (one lookup, one insert through psycopg's pool, as checkin/store/postgres.py).

Every answer is checked (each first scan accepted, each repeat `already_checked_in`, each unknown code
`unknown_code`); server CPU (and PostgreSQL's, read from /proc of the postmaster and its children) per scan is
measured for every phase, ours and the floor's.

    .venv/bin/python bench/scan_load.py [--participants 20000] [--requests 5000] [--concurrency 32] [--rounds 5]
    .venv/bin/python bench/scan_load.py --postgres [--instances 2]
    .venv/bin/python bench/scan_load.py --database-url postgresql://user@host/db [--instances 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))
import httpload  # noqa: E402
from nonces import uuid7  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "bench-scan-load-secret-key-shared-by-every-instance"
RATIO_TARGET, P99_TARGET_MS = 0.6, 50.0
# SQLite's first check-ins have a target of their own (issue 10): 0.75 of the floor; duplicates keep 0.6.
SQLITE_FIRST_TARGET = 0.75
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not answer at {url}")


def bodies(codes: list[str]) -> list[bytes]:
    return [json.dumps({"code": c, "nonce": uuid7(), "method": "camera"}).encode() for c in codes]


def serve(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def merge(name: str, parts: list[httpload.Result]) -> httpload.Result:
    """Rounds of one phase as one result: requests and time add up, latencies pool."""
    merged = httpload.Result(name, 0, 0.0, [], {}, [])
    for part in parts:
        merged.requests += part.requests
        merged.seconds += part.seconds
        merged.latencies += part.latencies
        merged.bodies += part.bodies
        for status, n in part.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
    return merged


# --- CPU from /proc -------------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds (user + system) of the roots, of the children they reaped, and of their living children:
    a PostgreSQL backend that exits meanwhile is counted in its postmaster's reaped time."""
    total = 0.0
    for pid in roots:
        fields = _stat(pid)
        if fields:  # fields[11..14]: utime stime cutime cstime
            total += sum(int(x) for x in fields[11:15])
    wanted = {str(pid) for pid in roots}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and fields[1] in wanted:
                total += int(fields[11]) + int(fields[12])
    return total / TICK


@dataclass
class Side:
    """One system under test: our server instances or the floor's processes, and where its CPU is read."""

    name: str
    ports: list[int]
    path: str
    headers: dict[str, str]
    pids: list[int]
    cpu: dict[str, float] = field(default_factory=dict)  # phase -> CPU seconds of the side's own processes
    db_cpu: dict[str, float] = field(default_factory=dict)  # phase -> CPU seconds of PostgreSQL
    main_cpu: dict[str, float] = field(default_factory=dict)  # phase -> of which the processes' main threads


def own_cpu(pids: list[int]) -> float:
    """CPU seconds of the processes themselves, all their threads (not checkin's idle document workers, whose
    start-up would otherwise land in the first round)."""
    total = 0.0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def main_thread_cpu(pids: list[int]) -> float:
    """CPU seconds of the processes' main threads: the event loop (HTTP, JSON, the handler), without the
    database's threads (checkin's SQLite writer and reader, aiosqlite's thread for the floor)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/task/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def run_phase(phase: str, side: Side, payload: list[bytes], concurrency: int, pg_root: int | None) -> httpload.Result:
    before, db_before = own_cpu(side.pids), tree_cpu([pg_root]) if pg_root else 0.0
    main_before = main_thread_cpu(side.pids)
    result = httpload.run(phase, "127.0.0.1", side.ports, side.path, payload, concurrency, side.headers)
    side.cpu[phase] = side.cpu.get(phase, 0.0) + own_cpu(side.pids) - before
    side.main_cpu[phase] = side.main_cpu.get(phase, 0.0) + main_thread_cpu(side.pids) - main_before
    if pg_root:
        side.db_cpu[phase] = side.db_cpu.get(phase, 0.0) + tree_cpu([pg_root]) - db_before
    return result


# --- the stores -----------------------------------------------------------------------------------------------

def sqlite_setup(workdir: Path, participants: int, env: dict) -> dict:
    db = workdir / "bench.sqlite3"
    started = time.perf_counter()
    done = subprocess.run([BIN / "checkin", "demo", "--participants", str(participants), "--db", str(db)],
                          capture_output=True, text=True, check=True, env={**env, "CHECKIN_DATA_DIR": str(workdir)})
    token = next(line.split()[-1] for line in done.stderr.splitlines() if "API device token" in line)
    print(f"seeded {participants} cadres in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    # The floor gets its own copy of the database: two processes writing one file would keep
    # invalidating each other's page cache between the interleaved rounds.
    floor_db = workdir / "floor.sqlite3"
    source = sqlite3.connect(db)
    with sqlite3.connect(floor_db) as target:
        source.backup(target)
    source.close()
    return {"db": db, "floor_db": floor_db, "token": token}


def pg_setup(url: str, workdir: Path, participants: int, env: dict) -> dict:
    started = time.perf_counter()
    env = {**env, "CHECKIN_DATABASE_URL": url, "CHECKIN_SECRET_KEY": SECRET, "CHECKIN_DATA_DIR": str(workdir)}

    def checkin(*args: str) -> str:
        done = subprocess.run([BIN / "checkin", *args], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"checkin {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    checkin("migrate")
    course_id = int(checkin("demo", "--participants", str(participants)).split()[0])
    # A device of its own (the demo prints its token only on a database without real data).
    token = checkin("device", "add", "--course", str(course_id), "--label", "bench/scan_load.py").split()[0]
    print(f"seeded {participants} cadres (course {course_id}) in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return {"env": env, "token": token, "course_id": course_id}


def pg_postmaster(url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (a backend's parent)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        fields = _stat(backend)
    if fields is None:
        return None
    parent = int(fields[1])
    return parent if (_stat(parent) or [""])[0] else None


def free_badges(store: str, where, session_id: int, n: int) -> list[str]:
    """Badges of the session's course (a database may hold other courses) not yet checked in to the session."""
    sql = ("SELECT b.code FROM badges b JOIN enrolments e ON e.id = b.enrolment_id"
           " WHERE e.course_id = (SELECT course_id FROM sessions WHERE id = {p}) AND b.revoked_at IS NULL"
           " AND b.enrolment_id NOT IN (SELECT enrolment_id FROM attendance WHERE session_id = {p})"
           " ORDER BY b.code LIMIT {p}")
    if store == "sqlite":
        conn = sqlite3.connect(where)
        rows = conn.execute(sql.format(p="?"), (session_id, session_id, n)).fetchall()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(where) as conn:
            rows = conn.execute(sql.format(p="%s"), (session_id, session_id, n)).fetchall()
    return [r[0] for r in rows]


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5,
                        help="phases run in this many interleaved rounds, ours and the floor's in turn, so that "
                             "other load on the machine falls on both alike")
    parser.add_argument("--database-url", help="PostgreSQL: run on this database (postgresql://...)")
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL: a throwaway durable server (scripts/pgcluster.py) when no URL is given")
    parser.add_argument("--instances", type=int, default=1, choices=(1, 2),
                        help="PostgreSQL: checkin serve processes on the one database, the scans spread over them")
    parser.add_argument("--machine-cores", type=int, default=2, help="cores per machine, for capacity on paper")
    parser.add_argument("--sqlite-sync", choices=("full", "normal"), default="full",
                        help="SQLite: the server's CHECKIN_SQLITE_SYNC. full (as served): every commit synced before "
                             "its scans are answered; normal: not synced, as the floor's commits (the cost of the sync)")
    args = parser.parse_args()
    store = "postgresql" if (args.database_url or args.postgres) else "sqlite"
    if store == "sqlite" and args.instances != 1:
        parser.error("--instances 2 needs PostgreSQL (--database-url or --postgres): SQLite is one process")

    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="checkin-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    cluster_folder, pg_root, processes = None, None, []
    try:
        url = args.database_url
        if store == "postgresql" and not url:
            import pgcluster

            cluster_folder = workdir / "pg"
            os.chmod(workdir, 0o755)  # the server runs as `postgres` when we are root: let it reach its folder
            url = pgcluster.start(cluster_folder, durable=True)
            print(f"throwaway PostgreSQL (fsync on, synchronous commits) at {url}", file=sys.stderr)
        if store == "sqlite":
            ready = sqlite_setup(workdir, args.participants, env)
        else:
            ready = pg_setup(url, workdir, args.participants, env)
            pg_root = pg_postmaster(url)
        auth = {"Authorization": f"Bearer {ready['token']}"}

        ports, floor_ports = [], []
        for i in range(args.instances):
            port, floor_port = free_port(), free_port()
            if store == "sqlite":
                server = serve([str(BIN / "checkin"), "serve", "--db", str(ready["db"]), "--port", str(port)],
                               {**env, "CHECKIN_DATA_DIR": str(workdir), "CHECKIN_SQLITE_SYNC": args.sqlite_sync})
                floor = serve([str(BIN / "python"), "-m", "uvicorn", "floor_app:app", "--app-dir", str(HERE),
                               "--port", str(floor_port), "--no-access-log", "--log-level", "warning"],
                              {**env, "FLOOR_DB": str(ready["floor_db"])})
            else:
                server = serve([str(BIN / "checkin"), "serve", "--port", str(port)],
                               {**ready["env"], "CHECKIN_INSTANCE_NAME": f"bench-{i + 1}"})
                floor = serve([str(BIN / "python"), "-m", "uvicorn", "floor_pg_app:app", "--app-dir", str(HERE),
                               "--port", str(floor_port), "--no-access-log", "--log-level", "warning"],
                              {**env, "FLOOR_DATABASE_URL": url})
            processes += [server, floor]
            wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
            _wait_floor(floor_port, floor)
            ports.append(port)
            floor_ports.append(floor_port)
        servers = [p for i, p in enumerate(processes) if i % 2 == 0]
        floors = [p for i, p in enumerate(processes) if i % 2 == 1]
        ours = Side("checkin", ports, "/api/v1/scans", auth, [p.pid for p in servers])
        bare = Side("floor", floor_ports, "/scan", {}, [p.pid for p in floors])

        request = urllib.request.Request(f"http://127.0.0.1:{ports[0]}/api/v1/device", headers=auth)
        session_id = json.loads(urllib.request.urlopen(request).read())["current_session_id"]
        codes = free_badges(store, ready["db"] if store == "sqlite" else url, session_id, args.requests)
        unknown = [secrets.token_urlsafe(16) for _ in range(args.requests)]
        httpload.run("warm-up", "127.0.0.1", ports, "/api/v1/scans", bodies(unknown[:300]), args.concurrency, auth)
        httpload.run("floor warm-up", "127.0.0.1", floor_ports, "/scan", bodies(unknown[:300]), args.concurrency)
        phases: dict[str, list[httpload.Result]] = {k: [] for k in ("first", "dupes", "unknown", "floor", "floor_unknown")}
        size = -(-len(codes) // args.rounds)
        for r in range(args.rounds):
            chunk, strangers = codes[r * size:(r + 1) * size], unknown[r * size:(r + 1) * size]
            if not chunk:
                break
            # With two instances, each repeat goes to the other instance than its first scan did.
            repeats = chunk[1:] + chunk[:1] if args.instances > 1 else chunk
            phases["first"].append(run_phase("first", ours, bodies(chunk), args.concurrency, pg_root))
            phases["floor"].append(run_phase("floor", bare, bodies(chunk), args.concurrency, pg_root))
            phases["dupes"].append(run_phase("dupes", ours, bodies(repeats), args.concurrency, pg_root))
            phases["unknown"].append(run_phase("unknown", ours, bodies(strangers), args.concurrency, pg_root))
            phases["floor_unknown"].append(run_phase("floor_unknown", bare, bodies(strangers), args.concurrency, pg_root))
    finally:
        for process in processes:
            stop(process)
        if store == "postgresql" and url:
            _drop_floor_table(url)
        if cluster_folder is not None:
            pgcluster.stop(cluster_folder)
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = loadavg()
    return report(args, store, phases, len(codes), ours, bare, pg_root, load_before, load_after)


def report(args, store: str, phases: dict, n_codes: int, ours: Side, bare: Side, pg_root: int | None,
           load_before: str, load_after: str) -> int:
    first, dupes, unk = (merge("first check-ins", phases["first"]), merge("duplicates", phases["dupes"]),
                         merge("unknown codes", phases["unknown"]))
    floor_first, floor_unknown = (merge("floor (known codes)", phases["floor"]),
                                  merge("floor (unknown codes)", phases["floor_unknown"]))
    reasons = {}
    for key, result in (("first", first), ("dupes", dupes), ("unknown", unk)):
        reasons[key] = {}
        for answer in result.bodies:
            reasons[key][answer.get("reason")] = reasons[key].get(answer.get("reason"), 0) + 1

    synced = "commits synced, as served" if args.sqlite_sync == "full" else "commits not synced, as the floor's"
    where = (f"SQLite (CHECKIN_SQLITE_SYNC={args.sqlite_sync}: {synced})" if store == "sqlite"
             else f"PostgreSQL, {args.instances} instance(s) and as many floor processes")
    print(f"\nPOST /api/v1/scans on {where}: {args.participants} cadres, concurrency {args.concurrency}, "
          f"{os.cpu_count()} cores, {len(phases['first'])} interleaved rounds; load average {load_before} before, "
          f"{load_after} after")
    for result in (first, dupes, unk, floor_first, floor_unknown):
        print("  " + result.line())
    print(f"  answers: first {reasons['first']}, duplicates {reasons['dupes']}, unknown {reasons['unknown']}")

    def per_round(ours_key: str, floor_key: str) -> list[float]:
        return [a.rps / b.rps for a, b in zip(phases[ours_key], phases[floor_key])]

    ratios = {
        "first check-ins": per_round("first", "floor"),
        "duplicates": per_round("dupes", "floor"),
        "unknown codes": per_round("unknown", "floor_unknown"),
    }
    targets = {"first check-ins": SQLITE_FIRST_TARGET if store == "sqlite" else RATIO_TARGET,
               "duplicates": RATIO_TARGET, "unknown codes": RATIO_TARGET}
    ok = True
    for name, values in ratios.items():
        median = statistics.median(values)
        print(f"  ratio to floor, {name:<16} median {median:5.2f}  (rounds {' '.join(f'{v:.2f}' for v in values)};"
              f" pooled {sum_rps(phases, name) :5.2f})  target >= {targets[name]:.2f}"
              + ("" if name != "unknown codes" else " (not required)"))
        if name != "unknown codes":
            ok &= median >= targets[name]
    for result in (first, dupes, unk):
        ok &= result.pct(99) < P99_TARGET_MS and result.errors == 0
    accepted = reasons["first"].get("checked_in", 0) + reasons["first"].get("checked_in_late", 0)
    ok &= accepted == n_codes and reasons["dupes"].get("already_checked_in", 0) == n_codes
    ok &= reasons["unknown"].get("unknown_code", 0) == n_codes

    print("  CPU per scan, ms of one core (the server or floor processes, all their threads; in brackets their main"
          " threads, the rest being the database's threads" + (", and PostgreSQL: postmaster and its children"
                                                                if pg_root else "") + "):")
    rows = (("first check-ins", ours, "first", first), ("duplicates", ours, "dupes", dupes),
            ("unknown codes", ours, "unknown", unk), ("floor (known codes)", bare, "floor", floor_first),
            ("floor (unknown codes)", bare, "floor_unknown", floor_unknown))
    for label, side, key, result in rows:
        line = (f"    {label:<22} {side.name:<7} {1000 * side.cpu.get(key, 0) / result.requests:6.3f}"
                f"  (main thread {1000 * side.main_cpu.get(key, 0) / result.requests:6.3f})")
        if pg_root:
            line += f"   PostgreSQL {1000 * side.db_cpu.get(key, 0) / result.requests:6.3f}"
        print(line)
    if store == "postgresql" and not pg_root:
        print("    (PostgreSQL's CPU not measured: its server does not run on this machine)")
    print(f"  targets: ratio to floor (median of rounds) >= {targets['first check-ins']} for first check-ins and "
          f">= {RATIO_TARGET} for duplicates, "
          f"p99 < {P99_TARGET_MS:.0f} ms, no errors, every first scan accepted, every repeat already_checked_in, "
          f"every unknown code unknown_code: {'MET' if ok else 'NOT MET'}")

    if store == "postgresql":
        server_ms = 1000 * ours.cpu.get("first", 0) / first.requests
        db_ms = 1000 * ours.db_cpu.get("first", 0) / first.requests if pg_root else None
        if args.instances > 1:
            print(f"\n  Note: {args.instances} instances on this machine's {os.cpu_count()} shared cores show that the "
                  "guarantees hold across instances (every answer above checked, repeats sent to the other "
                  "instance), not a speed-up: they share the same cores with PostgreSQL and the load generator.")
        capacity(server_ms, db_ms, args.machine_cores)
        print(f"    One course's first check-ins are decided many to a transaction on each instance (checkin/door/"
              f"batch.py, their event numbers taken in it): here {first.rps:.0f}/s for the one course measured, bound "
              "by CPU on these shared cores.")

    command = (f".venv/bin/python bench/scan_load.py --participants {args.participants} --requests {args.requests} "
               f"--concurrency {args.concurrency} --rounds {args.rounds}")
    if store == "sqlite" and args.sqlite_sync != "full":
        command += f" --sqlite-sync {args.sqlite_sync}"
    if store == "postgresql":
        command += (f" --database-url {args.database_url}" if args.database_url else " --postgres")
        command += f" --instances {args.instances}"
    print(f"\nReproduce: {command}")
    return 0 if ok else 1


def sum_rps(phases: dict, name: str) -> float:
    keys = {"first check-ins": ("first", "floor"), "duplicates": ("dupes", "floor"),
            "unknown codes": ("unknown", "floor_unknown")}[name]
    ours, floor = merge("", phases[keys[0]]), merge("", phases[keys[1]])
    return ours.rps / floor.rps


def capacity(server_ms: float, db_ms: float | None, cores: int) -> None:
    """Capacity on paper from the CPU each first check-in costs, half of every core kept for the rest of the day
    (badge PDFs, exports, big screens)."""
    print(f"\n  Capacity on paper (CPU only, half of every core kept free): a first check-in costs {server_ms:.2f} ms "
          f"of checkin's CPU" + (f" and {db_ms:.2f} ms of PostgreSQL's" if db_ms is not None else ""))
    per_machine = cores * 0.5 * 1000 / server_ms
    for machines in (1, 2, 3, 4):
        line = f"    {machines} machine(s) of {cores} cores running checkin: {machines * per_machine:7.0f} first check-ins/s"
        if db_ms:
            for pg_cores in (2, 4):
                line += f"; PostgreSQL on {pg_cores} cores of its own carries {pg_cores * 0.5 * 1000 / db_ms:6.0f}/s"
        print(line)
    print("    (instances = machines: several instances on one machine share its cores; the smaller of the two "
          "figures is the service's)")


def _drop_floor_table(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_floor_scans")
    except psycopg.Error:
        pass


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _wait_floor(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"floor server exited: {process.stderr.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("floor server did not start")


if __name__ == "__main__":
    raise SystemExit(main())
