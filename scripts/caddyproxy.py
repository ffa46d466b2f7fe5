"""Caddy in front of local checkin instances, running the shipped deploy/Caddyfile.cluster: for `make cluster`
and the cluster tests (tests/cluster.py).

The Caddyfile takes its site and upstreams from the environment; here the site is plain HTTP on
127.0.0.1, the admin API is off (two of these may run at once), and Caddy keeps its files in the given folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

CADDYFILE = Path(__file__).resolve().parent.parent / "deploy" / "Caddyfile.cluster"


class NoCaddy(RuntimeError):
    """No caddy binary on this machine."""


def find_caddy() -> str:
    found = shutil.which("caddy")
    if not found:
        raise NoCaddy("no caddy found (Debian: apt-get install caddy; `make cluster` and `make test` do it as root)")
    return found


def status(url: str) -> int | None:
    """The HTTP status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def environment(folder: Path, port: int, upstreams: list[str]) -> dict:
    """Caddy's environment for deploy/Caddyfile.cluster: plain HTTP on 127.0.0.1:port, files in folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKIN_", "XDG_"))}
    env.update(
        CHECKIN_SITE=f"http://127.0.0.1:{port}", CHECKIN_UPSTREAMS=" ".join(upstreams),
        CHECKIN_CADDY_ADMIN="off",
        HOME=str(folder), XDG_DATA_HOME=str(folder / "data"), XDG_CONFIG_HOME=str(folder / "config"),
    )
    return env


def start(folder: Path, port: int, upstreams: list[str], *, new_session: bool = False) -> subprocess.Popen:
    """Run Caddy in front of the upstreams ("127.0.0.1:PORT" each) and wait until it answers on the port.

    Its output goes to FOLDER/caddy.log. new_session: out of the terminal's process group, so that Ctrl+C
    reaches only the caller, which stops Caddy in its own order."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "caddy.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [find_caddy(), "run", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
            env=environment(folder, port, upstreams), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"caddy exited: {log.read_text(errors='replace')[-2000:]}")
        if status(f"http://127.0.0.1:{port}/healthz") is not None:
            return process
        if time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            raise RuntimeError(f"caddy did not listen on {port}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
