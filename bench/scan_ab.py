"""The door's speed, this checkout against another commit: two servers side by side, in alternating rounds.

`bench/scan_load.py` compares the server with a bare floor; its ratio moves by about 0.1 between runs of the same
code on a shared machine, more than most single changes to the door are worth. This script compares two versions
of the server directly, so that whatever the machine does falls on both alike: one `checkin demo` course of
20,000 cadres, copied into two SQLite databases; `checkin serve` from this checkout on one, and from a checkout of
`--against` (a git worktree in a temporary folder, put first on `PYTHONPATH`) on the other; then rounds of first
check-ins (distinct badges) and of the same badges again (duplicates) at concurrency 32, the two servers in turn,
the order swapped every round. Every answer is checked. Prints each round's throughput, the median of the rounds'
ratios (this checkout / the other), and each server's CPU per scan.

    .venv/bin/python bench/scan_ab.py --against fe34d29 [--rounds 10] [--scans 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import httpload  # noqa: E402
import scan_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="the commit to compare this checkout with")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--scans", type=int, default=1000, help="first check-ins per round and server")
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="checkin-ab-"))
    other = work / "other"
    added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.against],
                           capture_output=True, text=True)
    if added.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(f"cannot check out {args.against!r} beside this checkout (a git clone is needed): "
                         f"{added.stderr.strip()}")
    servers: dict[str, subprocess.Popen] = {}
    try:
        ready = scan_load.sqlite_setup(work, args.participants, dict(os.environ))
        auth = {"Authorization": f"Bearer {ready['token']}"}
        ports = {}
        for side in ("this", "other"):
            db = work / f"{side}.sqlite3"
            with sqlite3.connect(ready["db"]) as source, sqlite3.connect(db) as target:
                source.backup(target)
            env = {**os.environ, "CHECKIN_DATA_DIR": str(work)}
            if side == "other":
                env["PYTHONPATH"] = str(other)
            ports[side] = scan_load.free_port()
            servers[side] = scan_load.serve(
                [str(scan_load.BIN / "checkin"), "serve", "--db", str(db), "--port", str(ports[side])], env)
            scan_load.wait_until_up(f"http://127.0.0.1:{ports[side]}/healthz", servers[side])
        request = urllib.request.Request(f"http://127.0.0.1:{ports['this']}/api/v1/device", headers=auth)
        session_id = json.loads(urllib.request.urlopen(request).read())["current_session_id"]
        warm = 300
        codes = scan_load.free_badges("sqlite", work / "this.sqlite3", session_id, warm + args.rounds * args.scans)
        if len(codes) < warm + args.rounds * args.scans:
            raise SystemExit("not enough cadres for that many scans: raise --participants or lower --scans")
        for side in servers:
            httpload.run("warm-up", "127.0.0.1", ports[side], "/api/v1/scans", scan_load.bodies(codes[:warm]),
                         args.concurrency, auth)

        rates = {(side, phase): [] for side in servers for phase in ("first", "again")}
        cpu = {(side, phase): 0.0 for side in servers for phase in ("first", "again")}
        expected = {"first": "checked_in", "again": "already_checked_in"}
        for r in range(args.rounds):
            chunk = codes[warm + r * args.scans: warm + (r + 1) * args.scans]
            for side in (("this", "other") if r % 2 == 0 else ("other", "this")):
                for phase in ("first", "again"):
                    before = scan_load.own_cpu([servers[side].pid])
                    result = httpload.run(phase, "127.0.0.1", ports[side], "/api/v1/scans", scan_load.bodies(chunk),
                                          args.concurrency, auth)
                    cpu[(side, phase)] += scan_load.own_cpu([servers[side].pid]) - before
                    wrong = [b for b in result.bodies if b.get("reason") != expected[phase]]
                    if result.errors or wrong:
                        raise SystemExit(f"{side} answered {result.statuses} {wrong[:1]} in round {r + 1}")
                    rates[(side, phase)].append(result.rps)
    finally:
        for process in servers.values():
            scan_load.stop(process)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    print(f"\nPOST /api/v1/scans, this checkout ({head}{' with changes' if dirty else ''}) against {args.against}: "
          f"{args.participants} cadres on SQLite, concurrency {args.concurrency}, {args.rounds} alternating rounds "
          f"of {args.scans}; load average {scan_load.loadavg()}")
    for phase, label in (("first", "first check-ins"), ("again", "duplicates")):
        ratios = [a / b for a, b in zip(rates[("this", phase)], rates[("other", phase)])]
        print(f"  {label}: this {statistics.median(rates[('this', phase)]):,.0f}/s, "
              f"{args.against} {statistics.median(rates[('other', phase)]):,.0f}/s (medians); "
              f"ratio per round {' '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.3f}")
        scans = args.rounds * args.scans
        print(f"    CPU per scan: this {cpu[('this', phase)] / scans * 1000:.3f} ms, "
              f"{args.against} {cpu[('other', phase)] / scans * 1000:.3f} ms")
    print(f"\nReproduce: .venv/bin/python bench/scan_ab.py --against {args.against} --rounds {args.rounds} "
          f"--scans {args.scans} --participants {args.participants} --concurrency {args.concurrency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
