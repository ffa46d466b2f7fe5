"""A throwaway PostgreSQL server from the system's binaries, for the tests and `make cluster`.

    python scripts/pgcluster.py start FOLDER   # prints the URL of database "checkin" (and keeps it running)
    python scripts/pgcluster.py stop FOLDER

initdb into FOLDER, listen on 127.0.0.1 at a free port and on a socket in FOLDER, trust authentication.
Durability is switched off (fsync=off) unless start(..., durable=True) is asked (the benchmarks): it is for tests
and trying things out, never for data you keep.
Run as root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path


class NoPostgres(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """Where initdb and pg_ctl are: $CHECKIN_PG_BINDIR, pg_config's, or Debian's newest version."""
    given = os.environ.get("CHECKIN_PG_BINDIR")
    candidates = [Path(given)] if given else []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if found:
            candidates.append(Path(found))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise NoPostgres("no PostgreSQL server binaries found (Debian: apt-get install postgresql; or set CHECKIN_PG_BINDIR)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(args: list[str], folder: Path) -> list[str]:
    if os.geteuid() != 0:
        return args
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise NoPostgres("running as root needs a 'postgres' user to run the server (apt-get install postgresql)") from None
    for path in [folder, *folder.rglob("*")]:
        try:
            os.chown(path, user.pw_uid, user.pw_gid)
        except FileNotFoundError:  # a running server's temporary file, gone since the listing
            pass
    return ["runuser", "-u", "postgres", "--", *args]


def start(folder: Path, port: int | None = None, *, durable: bool = False) -> str:
    """Start a server whose data lives in FOLDER (made with initdb when new); returns the URL of database
    "checkin", created when missing. `durable`: PostgreSQL's own defaults (fsync, synchronous commits, full
    page writes), as an operator runs it; for benchmarks that compare with the SQLite store's synced commits."""
    bindir = find_bindir()
    folder = folder.resolve()
    data = folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    if not (data / "PG_VERSION").exists():
        run = _as_server_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                               "-E", "UTF8", "--locale=C.UTF-8"], folder)
        done = subprocess.run(run, capture_output=True, text=True)
        if done.returncode != 0:
            raise NoPostgres(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    port = port or free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    run = _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"),
                           "-o", options, "-w", "-t", "30", "start"], folder)
    done = subprocess.run(run, capture_output=True, text=True)
    if done.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-2000:] if (folder / "server.log").exists() else ""
        raise NoPostgres(f"the PostgreSQL server did not start: {done.stderr.strip()}\n{log}")
    (folder / "port").write_text(str(port))
    url = f"postgresql://postgres@127.0.0.1:{port}/checkin"
    _create_database(f"postgresql://postgres@127.0.0.1:{port}/postgres", "checkin")
    return url


def _create_database(admin_url: str, name: str) -> None:
    import psycopg

    deadline = time.monotonic() + 20
    while True:
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(folder: Path) -> None:
    folder = folder.resolve()
    data = folder / "data"
    if not (data / "postmaster.pid").exists():
        return
    run = _as_server_user([str(find_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], folder)
    subprocess.run(run, capture_output=True, text=True)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[1] == "start":
            print(start(Path(argv[2])))
        else:
            stop(Path(argv[2]))
    except NoPostgres as exc:
        print(f"pgcluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
