"""`make cluster`: several checkin instances on one PostgreSQL behind Caddy, on this machine, to see it work.

    python scripts/cluster.py [--instances 2] [--port 8080] [--folder data/cluster]   # runs until Ctrl+C
    python scripts/cluster.py stop [--folder data/cluster]                            # from another terminal

A throwaway PostgreSQL server (scripts/pgcluster.py, durability off), `checkin migrate`, the demo course
(`checkin demo`), the instances on free ports, and Caddy with the shipped deploy/Caddyfile.cluster on
127.0.0.1:PORT (plain HTTP: the camera works on this machine's own browser). Everything lives in the folder,
which the next run empties; Ctrl+C (or `stop`) stops Caddy, then the instances, then PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import caddyproxy  # noqa: E402
import pgcluster  # noqa: E402

NAMES = "abcdefgh"


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalCluster:
    def __init__(self, folder: Path, instances: int, port: int):
        self.folder = folder.resolve()
        self.count = instances
        self.port = port if port_is_free(port) else pgcluster.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}
        self.instances: list[tuple[str, int, subprocess.Popen]] = []
        self.caddy: subprocess.Popen | None = None
        self.stopping = False

    def checkin(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "checkin", *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"checkin {' '.join(args)} failed:\n{done.stderr}")
        return done

    def start(self, requested_port: int) -> None:
        stop_leftover(self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        (self.folder / "supervisor.pid").write_text(str(os.getpid()))
        say(f"Starting a throwaway PostgreSQL in {self.folder / 'pg'} ...")
        database_url = pgcluster.start(self.folder / "pg")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
        self.env.update(CHECKIN_DATABASE_URL=database_url, CHECKIN_SECRET_KEY=secrets.token_urlsafe(48),
                        CHECKIN_BASE_URL=self.url, CHECKIN_DATA_DIR=str(self.folder))
        # The shared settings, as an operator writes them in /etc/checkin/env (the secret stays in this folder).
        shared = self.folder / "env"
        shared.write_text("".join(f"{k}={v}\n" for k, v in self.env.items() if k.startswith("CHECKIN_")))
        shared.chmod(0o600)
        say("checkin migrate ...")
        self.checkin("migrate")
        password = secrets.token_urlsafe(9)
        demo = self.checkin("demo", f"--password={password}")  # one argument, even when it starts with "-"
        upstreams = []
        for name in NAMES[:self.count]:
            port = pgcluster.free_port()
            log = (self.folder / f"{name}.log").open("ab")
            process = subprocess.Popen(
                [sys.executable, "-m", "checkin", "serve", "--port", str(port)],
                env={**self.env, "CHECKIN_INSTANCE_NAME": name}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches this script only, which stops everything in order
            )
            log.close()
            self.instances.append((name, port, process))
            upstreams.append(f"127.0.0.1:{port}")
        for name, port, process in self.instances:
            wait_for(f"http://127.0.0.1:{port}/healthz", process, self.folder / f"{name}.log")
        if self.port != requested_port:
            say(f"Port {requested_port} is taken; Caddy listens on {self.port} instead.")
        self.caddy = caddyproxy.start(self.folder / "caddy", self.port, upstreams, new_session=True)
        self.record_children()
        wait_for(f"{self.url}/healthz", self.caddy, self.folder / "caddy" / "caddy.log")
        say("")
        say(f"checkin: {self.count} instances on one PostgreSQL, behind Caddy (deploy/Caddyfile.cluster):")
        for line in demo.stderr.splitlines()[1:]:
            say(line)
        say(f"  Instances: {', '.join(f'{n} on 127.0.0.1:{p}' for n, p, _ in self.instances)}; Caddy checks their"
            f" /readyz; PostgreSQL at {database_url}")
        say(f"  Logs and settings in {self.folder}. Try stopping one: kill {self.instances[0][2].pid}")
        say("  Ctrl+C stops everything (or `make cluster-stop` from another terminal).")

    def record_children(self) -> None:
        """For `stop` when this script was killed without cleaning up."""
        pids = [process.pid for _, _, process in self.instances] + ([self.caddy.pid] if self.caddy else [])
        (self.folder / "children.pid").write_text("".join(f"{pid}\n" for pid in pids))

    def watch(self) -> None:
        reported: set[str] = set()
        while not self.stopping:
            if self.caddy.poll() is not None:
                say("Caddy stopped; stopping the cluster.")
                return
            for name, _, process in self.instances:
                if process.poll() is not None and name not in reported:
                    reported.add(name)
                    say(f"Instance {name} exited ({process.returncode}); Caddy sends everything to the others.")
            time.sleep(0.3)

    def stop(self) -> None:
        say("Stopping Caddy, the instances, PostgreSQL ...")
        if self.caddy:
            caddyproxy.stop(self.caddy)
        for _, _, process in self.instances:
            if process.poll() is None:
                process.terminate()
        for _, _, process in self.instances:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        pgcluster.stop(self.folder / "pg")
        (self.folder / "supervisor.pid").unlink(missing_ok=True)
        say("Stopped.")


def wait_for(url: str, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while caddyproxy.status(url) != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer; the end of {log}:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def stop_leftover(folder: Path) -> bool:
    """Stop a cluster still running from this folder (its script is asked to stop everything); True if one was."""
    pid_file = folder / "supervisor.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    if is_running(pid, "cluster.py"):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        return True
    # The script was killed without cleaning up: stop what it had started.
    children = folder / "children.pid"
    for line in children.read_text().split() if children.exists() else []:
        if is_running(int(line), "checkin", "caddy"):
            os.kill(int(line), signal.SIGTERM)
    pgcluster.stop(folder / "pg")
    pid_file.unlink(missing_ok=True)
    return True


def is_running(pid: int, *names: str) -> bool:
    """Whether process pid runs and its command line holds one of the names (a pid file may be stale)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return any(name in command for name in names)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cluster", description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=("run", "stop"), default="run")
    parser.add_argument("--folder", type=Path, default=Path("data/cluster"))
    parser.add_argument("--instances", type=int, default=2, choices=range(2, len(NAMES) + 1))
    parser.add_argument("--port", type=int, default=8080, help="Caddy's port (a free one when taken)")
    args = parser.parse_args(argv)
    if args.action == "stop":
        say("Stopped the cluster." if stop_leftover(args.folder.resolve()) else "No cluster runs from this folder.")
        return 0
    cluster = LocalCluster(args.folder, args.instances, args.port)

    def on_signal(signum, frame):
        cluster.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.start(args.port)
        cluster.watch()
    except (pgcluster.NoPostgres, caddyproxy.NoCaddy, RuntimeError) as exc:
        say(f"cluster: {exc}")
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
