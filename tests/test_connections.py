"""Hostile and broken connections against `checkin serve` as an operator runs it (a real process on a free port):
half-sent requests past the file-handle limit, connections that send nothing, answers nobody reads. The door
and the big screen must keep working; long-lived event streams must not be cut."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
import uvicorn

from checkin import connections
from checkin.course.demo import create_demo
from checkin.store import organisers
from checkin.store.db import open_sync, transaction

from .conftest import bearer

PASSWORD = "correct horse battery"
HALF_SENT = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"  # the header never ends


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    url: str
    port: int
    course_id: int
    token: str
    badge: str  # a cadre not yet checked in to the session on now


@contextmanager
def checkin_serve(folder: Path, env: dict[str, str], open_files: int | None = None):
    """`checkin serve` on a demo course held today, optionally with a low limit of open files."""
    db = folder / "checkin.sqlite3"
    now = datetime.now(timezone.utc)
    conn = open_sync(db)
    with transaction(conn):
        organiser_id = organisers.insert_organiser(conn, "lan", "Lan", PASSWORD, now, is_admin=True)
        demo = create_demo(conn, now, ZoneInfo("Asia/Ho_Chi_Minh"), participants=12, organiser_id=organiser_id)
    conn.close()
    port = free_port()

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    process = subprocess.Popen(
        [sys.executable, "-m", "checkin", "serve", "--db", str(db), "--data-dir", str(folder), "--port", str(port)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limit_files if open_files else None,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "checkin serve stopped"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "checkin serve did not start"
            time.sleep(0.1)
        yield Served(f"http://127.0.0.1:{port}", port, demo.course_id, demo.device_token, demo.sample_badge)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def event_stream(served: Served):
    """An organiser's event stream, open and past its first line."""
    with httpx.Client(base_url=served.url, timeout=15) as client:
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "lan", "password": PASSWORD, "csrf": csrf})
        with client.stream("GET", f"/courses/{served.course_id}/events") as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            assert next(lines).startswith("retry:")
            yield lines


def next_event(lines) -> dict:
    for line in lines:
        if line.startswith("data: ") and line != "data: {}":
            return json.loads(line[6:])
    raise AssertionError("the stream ended")


def door_scan(served: Served) -> dict:
    answer = httpx.post(f"{served.url}/api/v1/scans", json={"code": served.badge, "method": "camera"},
                        headers=bearer(served.token), timeout=15)
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_connections(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        if first_bytes:
            sock.sendall(first_bytes)
        opened.append(sock)
    return opened


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """True when the server closed the connection (now, or within `wait` seconds)."""
    sock.settimeout(wait)
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_half_sent_requests_past_the_file_limit_leave_the_door_and_the_big_screen_working(tmp_path):
    # 256 open files, as a small `ulimit -n`: before, the server ran out of them and refused the door itself.
    with checkin_serve(tmp_path, {"CHECKIN_HEADER_TIMEOUT_SECONDS": "60"}, open_files=256) as served, \
            event_stream(served) as lines:
        flood = open_connections(served.port, 300, HALF_SENT) + open_connections(served.port, 5, b"")
        try:
            scan = door_scan(served)
            assert scan["accepted"] is True
            assert httpx.get(f"{served.url}/healthz", timeout=15).status_code == 200
            event = next_event(lines)  # the stream opened before the flood was not among those closed
            assert event["kind"] == "checkin" and event["scan_id"] == scan["scan_id"]
            closed = sum(closed_by_server(sock, 0.05) for sock in flood)
            # Within the budget (the files less those kept for the database and workers), the rest closed.
            assert closed >= len(flood) - connections.connection_limit(10_000, 256)
        finally:
            for sock in flood:
                sock.close()


def test_connections_that_send_nothing_or_never_finish_the_header_are_closed_but_streams_stay(tmp_path):
    with checkin_serve(tmp_path, {"CHECKIN_HEADER_TIMEOUT_SECONDS": "1"}) as served, event_stream(served) as lines:
        silent = socket.create_connection(("127.0.0.1", served.port), timeout=15)
        trickling = socket.create_connection(("127.0.0.1", served.port), timeout=15)
        try:
            assert closed_by_server(silent, 15)
            deadline = time.monotonic() + 15
            with pytest.raises(OSError):  # a byte every 0.2 s does not reset the deadline
                for byte in HALF_SENT * 100:
                    assert time.monotonic() < deadline, "the trickling connection was not closed"
                    trickling.sendall(bytes([byte]))
                    time.sleep(0.2)
            # The stream is long past the header deadline and still delivers.
            scan = door_scan(served)
            assert next_event(lines)["scan_id"] == scan["scan_id"]
        finally:
            silent.close()
            trickling.close()


BIG = 20_000_000  # more than the kernel's socket buffers take in for a client that does not read


async def big_answer(scope, receive, send):
    """An ASGI app with one long answer (the protocol under test is what matters, not the app)."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(BIG).encode())]})
    chunk = b"x" * 100_000
    for _ in range(BIG // len(chunk)):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def stalling_server():
    """uvicorn in a thread with checkin's protocol and a one-second stall deadline."""
    budget = connections.ConnectionBudget(100, header_timeout=10, stall_timeout=1)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(big_answer, http=budget.protocol(), ws="none", lifespan="off",
                                           log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_an_answer_the_client_stops_reading_is_dropped(stalling_server):
    reader = socket.create_connection(("127.0.0.1", stalling_server), timeout=15)
    try:
        reader.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(3)  # read nothing for longer than the stall deadline
        received = 0
        try:
            while chunk := reader.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert received < BIG, "the whole answer was kept for a client that stopped reading"
    finally:
        reader.close()
