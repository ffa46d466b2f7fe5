"""The course event stream, against a real uvicorn server on a free port (an in-process client would
buffer the endless response and hang): live events, replay after Last-Event-ID, heartbeats, slow
subscribers dropped and caught up, and cleanup when the client goes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass

import httpx2 as httpx
import pytest
import uvicorn

from checkin.routes import live
from checkin.store import organisers, scans
from checkin.store.db import transaction

from .conftest import bearer


@dataclass
class Running:
    url: str
    app: object
    loop: asyncio.AbstractEventLoop

    @property
    def broadcaster(self):
        return self.app.state.services.broadcaster.broadcaster  # the relay's local broadcaster


@pytest.fixture
def server(app):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", timeout_graceful_shutdown=1))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "server did not start"
    yield Running(f"http://127.0.0.1:{port}", app, loop)
    uv.should_exit = True
    thread.join(10)
    loop.close()
    sock.close()


@pytest.fixture
def organiser(server):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = client.post("/login", data={"username": "lan", "password": "correct horse battery", "csrf": csrf})
        assert answer.status_code in (200, 303)
        yield client


class Stream:
    """Reads one SSE response line by line and turns it into (id, data) events and comments."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self.lines = response.iter_lines()
        self.comments: list[str] = []
        self.retry: int | None = None
        self.pings = 0

    def next_event(self) -> tuple[int, dict] | None:
        """The next event, or None when the server ended the stream."""
        event_id, data, kind = None, None, "message"
        for line in self.lines:
            if line.startswith(":"):
                self.comments.append(line)
            elif line.startswith("retry: "):
                self.retry = int(line[7:])
            elif line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                if kind == "ping":
                    self.pings += 1
                    event_id, data, kind = None, None, "message"
                    continue
                return event_id, data
        return None

    def events(self, n: int) -> list[tuple[int, dict]]:
        return [self.next_event() for _ in range(n)]


def open_stream(client: httpx.Client, course_id: int, **headers_or_params):
    headers = {}
    params = {}
    if "last_event_id" in headers_or_params:
        params["last_event_id"] = headers_or_params["last_event_id"]
    if "header" in headers_or_params:
        headers["Last-Event-ID"] = str(headers_or_params["header"])
    return client.stream("GET", f"/courses/{course_id}/events", headers=headers, params=params)


def scan(client: httpx.Client, world, index: int) -> dict:
    answer = client.post("/api/v1/scans", json={"code": world.course.codes[index], "method": "camera"},
                         headers=bearer(world.course.token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_accepted_scan_reaches_an_open_stream_with_its_event_id(server, organiser, world):
    with open_stream(organiser, world.course.id) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        answer = scan(organiser, world, 0)
        event_id, data = stream.next_event()
    assert stream.retry == live.RETRY_MS
    assert data["kind"] == "checkin" and data["scan_id"] == answer["scan_id"]
    assert data["name"] == "Nguyễn Thị Hương" and data["status"] == "present"
    conn = world.conn()
    stored = scans.list_events(conn, world.course.id, 0)
    conn.close()
    assert [e.id for e in stored] == [event_id]


def test_reconnect_with_last_event_id_replays_what_was_missed_in_order_then_goes_live(server, organiser, world):
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        scan(organiser, world, 0)
        first_id, _ = stream.next_event()
    # While the screen is away: two more check-ins and a refused scan (which makes no event).
    scan(organiser, world, 1)
    scan(organiser, world, 2)
    scan(organiser, world, 0)  # already_checked_in
    with open_stream(organiser, world.course.id, header=first_id) as response:
        stream = Stream(response)
        replayed = stream.events(2)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        scan(organiser, world, 3)
        live_id, live_data = stream.next_event()
    ids = [i for i, _ in replayed] + [live_id]
    assert ids == sorted(set(ids)) and ids[0] > first_id
    assert [d["name"] for _, d in replayed] == ["Trần Văn Nam", "Lê Minh Đức"]
    assert live_data["name"] == "Phạm Thu Trang"


def test_header_wins_over_query_and_query_alone_works(server, organiser, world):
    for index in range(3):
        scan(organiser, world, index)
    conn = world.conn()
    ids = [e.id for e in scans.list_events(conn, world.course.id, 0)]
    conn.close()
    with open_stream(organiser, world.course.id, last_event_id=ids[0]) as response:
        assert [i for i, _ in Stream(response).events(2)] == ids[1:]
    with open_stream(organiser, world.course.id, last_event_id=ids[0], header=ids[1]) as response:
        assert [i for i, _ in Stream(response).events(1)] == ids[2:]


def test_undo_is_an_event_too(server, organiser, world):
    answer = scan(organiser, world, 0)
    conn = world.conn()
    last = scans.get_last_event_id(conn, world.course.id)
    conn.close()
    undone = organiser.post(f"/api/v1/scans/{answer['scan_id']}/undo", headers=bearer(world.course.token))
    assert undone.status_code == 200
    with open_stream(organiser, world.course.id, last_event_id=last) as response:
        _, data = Stream(response).next_event()
    assert data == {"kind": "undo", "scan_id": answer["scan_id"], "session_id": world.course.sessions[0],
                    "enrolment_id": world.course.enrolments[0]}


def test_heartbeat_pings_keep_an_idle_stream_open_without_moving_its_event_id(server, organiser, world, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.1)
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        lines = []
        for line in stream.lines:
            lines.append(line)
            if len(lines) >= 5:
                break
    # retry, blank, then pings: a named event (scripts can see it) with no id (Last-Event-ID stays put)
    assert lines[2:5] == ["event: ping", "data: {}", ""]


def test_closing_the_connection_unsubscribes(server, organiser, world):
    with open_stream(organiser, world.course.id) as response:
        Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
    assert wait_for(lambda: server.broadcaster.count(world.course.id) == 0)


def test_a_subscriber_that_falls_behind_is_dropped_and_catches_up_from_the_log(server, organiser, world):
    burst = server.broadcaster.queue_size + 40
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        conn = world.conn()
        with transaction(conn):
            events = [scans.insert_event(conn, world.course.id, "note", {"n": n}, world.clock()) for n in range(burst)]
        conn.close()

        # Through the relay, as handlers publish: on PostgreSQL it also hears of the commit (NOTIFY) and reads the
        # events from the table, and hands each number to the broadcaster once (straight to the broadcaster, a number
        # could come both ways and go out twice, as test_a_burst_of_events_... found before).
        relay = server.app.state.services.broadcaster

        def publish_all():  # in one loop turn, so the stream cannot drain in between: the queue overflows
            for event in events:
                relay.publish(event)

        server.loop.call_soon_threadsafe(publish_all)
        received = []
        while (item := stream.next_event()) is not None:
            received.append(item)
    assert 0 < len(received) < burst, "the stream ends after the overflow"
    assert server.broadcaster.count(world.course.id) == 0
    with open_stream(organiser, world.course.id, header=received[-1][0]) as response:
        rest = Stream(response).events(burst - len(received))
    assert [d["n"] for _, d in received + rest] == list(range(burst))


def test_stream_needs_an_organiser_of_the_course(server, world):
    with httpx.Client(base_url=server.url, timeout=5) as anonymous:
        answer = anonymous.get(f"/courses/{world.course.id}/events")
    assert answer.status_code == 401


def test_a_malformed_last_event_id_is_refused(server, organiser, world):
    answer = organiser.get(f"/courses/{world.course.id}/events", headers={"Last-Event-ID": "abc"})
    assert answer.status_code == 422


def test_a_stream_carries_only_its_own_courses_events(server, organiser, world):
    other = world.other
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        foreign = organiser.post("/api/v1/scans", json={"code": other.codes[0], "method": "camera"},
                                 headers=bearer(other.token))
        assert foreign.json()["accepted"]
        scan(organiser, world, 0)
        _, data = stream.next_event()
    assert data["name"] == "Nguyễn Thị Hương" and data["session_id"] == world.course.sessions[0]


def test_a_stream_of_someone_elses_course_is_refused(server, world):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"username": "outsider", "password": "correct horse battery", "csrf": csrf})
        assert client.get(f"/courses/{world.course.id}/events").status_code == 403


# --- a stream ends with its sign-in session ----------------------------------------------------------------


def says_signed_out(stream: Stream, max_pings: int = 40) -> bool:
    """Whether the stream says `signed_out` and then ends, sending no event in between (within max_pings)."""
    pings = 0
    for line in stream.lines:
        if line == "event: signed_out":
            return list(stream.lines) == ["data: {}", ""] or list(stream.lines) == []
        if line == "event: ping":
            pings += 1
            if pings > max_pings:
                return False
    return False


def csrf_of(text: str) -> str:
    return text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_logging_out_ends_the_session_s_open_streams_at_once(server, organiser, world):
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        # Another tab of the same browser signs out.
        with httpx.Client(base_url=server.url, cookies=organiser.cookies, timeout=5) as tab:
            assert tab.post("/logout", data={"csrf": csrf_of(tab.get("/courses").text)}).status_code == 303
        assert says_signed_out(stream)
    assert wait_for(lambda: server.broadcaster.count(world.course.id) == 0)
    assert organiser.get(f"/courses/{world.course.id}/events").status_code == 401


def test_a_password_change_on_another_browser_ends_this_one_s_streams(server, organiser, world):
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        with httpx.Client(base_url=server.url, timeout=5) as phone:
            phone.post("/login", data={"username": "lan", "password": "correct horse battery",
                                       "csrf": csrf_of(phone.get("/login").text)})
            token = csrf_of(phone.get("/account/password").text)
            changed = phone.post("/account/password", data={"current": "correct horse battery", "csrf": token,
                                                            "password": "một mật khẩu mới hẳn",
                                                            "again": "một mật khẩu mới hẳn"})
            assert changed.status_code == 303
            # The browser that made the change keeps its own stream.
            with open_stream(phone, world.course.id) as own:
                assert says_signed_out(stream)
                assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
                scanned = scan(phone, world, 0)
                assert Stream(own).next_event()[1]["scan_id"] == scanned["scan_id"]


def test_a_session_ended_by_another_server_ends_the_stream_at_a_heartbeat(server, organiser, world, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.2)
    with open_stream(organiser, world.course.id) as response:
        stream = Stream(response)
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        # As `checkin user password` run on another machine would: nothing tells this server but the database.
        conn = world.conn()
        with transaction(conn):
            organisers.set_password(conn, 1, "a brand new password", world.clock())
        conn.close()
        assert says_signed_out(stream, max_pings=10)


def read_chunks(sock: socket.socket, until: bytes) -> list[bytes]:
    """The HTTP chunks of a streamed answer (one per write of the server), up to the one containing `until`."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    assert b" 200 " in head.split(b"\r\n", 1)[0]
    chunks = []
    while True:
        while b"\r\n" not in buffer:
            buffer += sock.recv(65536)
        size_line, rest = buffer.split(b"\r\n", 1)
        size = int(size_line, 16)
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        chunks.append(rest[:size])
        buffer = rest[size + 2:]
        if until in chunks[-1]:
            return chunks


def test_a_burst_of_events_reaches_a_stream_in_a_few_writes_not_one_per_event(server, organiser, world):
    # 2,000 big screens each woken and written to once per event held the door's scans back: events that come
    # close together go out together, in one write per connection.
    port = int(server.url.rsplit(":", 1)[1])
    cookie = "; ".join(f"{k}={v}" for k, v in organiser.cookies.items())

    async def publish_one_per_turn(events):
        # Through the relay, as handlers publish: on PostgreSQL it also hears of them (NOTIFY) and reads them from
        # the table, and hands each number to the broadcaster once (straight to the broadcaster, a number could
        # come both ways in one round, and go out twice).
        relay = server.app.state.services.broadcaster
        for event in events:
            relay.publish(event)
            await asyncio.sleep(0.001)

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /courses/{world.course.id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                     "\r\n".encode())
        assert wait_for(lambda: server.broadcaster.count(world.course.id) == 1)
        conn = world.conn()
        with transaction(conn):
            events = [scans.insert_event(conn, world.course.id, "note", {"n": n}, world.clock()) for n in range(100)]
        conn.close()
        asyncio.run_coroutine_threadsafe(publish_one_per_turn(events), server.loop).result(10)
        chunks = read_chunks(sock, f"id: {events[-1].id}\n".encode())
    body = b"".join(chunks[1:])  # after the retry line
    assert [int(line[4:]) for line in body.split(b"\n") if line.startswith(b"id: ")] == [e.id for e in events]
    assert len(chunks) - 1 <= 10, f"{len(chunks) - 1} writes for {len(events)} events"
