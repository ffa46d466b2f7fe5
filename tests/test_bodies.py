"""Request bodies have a size limit per route, enforced while they are read: a 413 with the usual error body,
before a large form is parsed, held in memory or spooled to disk; and against a real server, an answer
before the client has finished sending."""

from __future__ import annotations

import re
import select
import socket
from collections.abc import Iterator

import pytest
from checkin.settings import Settings

from .conftest import bearer, csrf, rows, sign_in
from .servers import serving

KB, MB = 1024, 1024 * 1024
UPLOAD_LIMIT = 20_000  # CHECKIN_MAX_UPLOAD_BYTES for these tests; the route allows it plus 64 kB of form
BIG = 200 * KB  # over every limit below


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test-secret-key", port=8000, max_upload_bytes=UPLOAD_LIMIT)


def _urlencoded(size: int) -> tuple[bytes, str]:
    return b"username=lan&password=x&csrf=x&filler=" + b"x" * size, "application/x-www-form-urlencoded"


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "----checkin-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nx\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"roster\"; filename=\"big.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _chunks(body: bytes, size: int = 16 * KB) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _tables(world) -> dict[str, int]:
    return {t: rows(world, f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ("courses", "scans", "pending_imports", "events")}


ROUTES = {
    "sign-in": ("/login", False, "body_too_large"),
    "organiser form": ("/courses/new", True, "body_too_large"),
    "scan api": ("/api/v1/scans", False, "body_too_large"),
    "roster upload": ("/courses/{course}/import", True, "file_too_large"),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_body_over_the_routes_limit_is_413_and_changes_nothing(client, world, route, kind, chunked):
    path, organiser, code = ROUTES[route]
    client.cookies.set("lang", "en")
    if organiser:
        sign_in(client)
    body, content_type = (_urlencoded if kind == "urlencoded" else _multipart)(BIG)
    before = _tables(world)
    answer = client.post(
        path.format(course=world.course.id), content=_chunks(body) if chunked else body,
        headers={"content-type": content_type, **bearer(world.course.token)} if path.startswith("/api/")
        else {"content-type": content_type},
    )
    assert answer.status_code == 413
    assert answer.headers["connection"] == "close"
    if path.startswith("/api/"):
        assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"]
    else:
        assert answer.headers["content-type"].startswith("text/html") and f"<code>{code}</code>" in answer.text
    assert _tables(world) == before


def test_a_json_scan_over_16_kb_is_413_declared_or_chunked(client, world):
    body = ('{"code": "a", "x": "' + "x" * 20_000 + '"}').encode()
    for content in (body, _chunks(body, 4 * KB)):
        answer = client.post("/api/v1/scans", content=content, headers={**bearer(world.course.token),
                                                                         "content-type": "application/json"})
        assert (answer.status_code, answer.json()["error"]["code"]) == (413, "body_too_large")
    assert _tables(world)["scans"] == 0


def test_each_route_has_its_own_limit(client, world):
    """9 kB is too much for the sign-in form, not for an organiser form; a roster upload takes its
    CHECKIN_MAX_UPLOAD_BYTES."""
    client.cookies.set("lang", "en")
    login = client.post("/login", content=_urlencoded(9 * KB)[0],
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert login.status_code == 413
    sign_in(client)
    token = csrf(client)
    course = client.post("/courses/new", data={"csrf": token, "title": "Lớp", "course_date": "2026-12-05",
                                               "time_zone": "Asia/Ho_Chi_Minh", "after_end": "late",
                                               "open_before_min": "30", "late_after_min": "10", "filler": "x" * 9 * KB},
                         follow_redirects=False)
    assert course.status_code == 303
    roster = ("Họ và tên,Đơn vị\n" + "Nguyễn Văn A,Đoàn Thanh niên\n" * 500).encode()[:UPLOAD_LIMIT]
    upload = client.post(f"/courses/{world.course.id}/import", data={"csrf": token},
                         files={"roster": ("r.csv", roster, "text/csv")}, follow_redirects=False)
    assert upload.status_code != 413


def _utf7_multipart(fields: dict[str, str]) -> bytes:
    parts = "".join(f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                    for name, value in fields.items())
    return (parts + "--b--\r\n").encode()


def test_a_form_whose_text_is_a_lone_surrogate_is_400_invalid_form(client, world):
    """A multipart part in UTF-7 can carry a lone surrogate ("+2AA-" is U+D800), which no database can
    store as UTF-8: refused where forms are read, for the sign-in and for every organiser form."""
    client.cookies.set("lang", "en")
    headers = {"content-type": "multipart/form-data; boundary=b; charset=utf-7"}
    login = client.post("/login", content=_utf7_multipart({"csrf": "x", "username": "+2AA-", "password": "p"}),
                        headers=headers)
    assert login.status_code == 400 and "<code>invalid_form</code>" in login.text
    sign_in(client)
    before = rows(world, "SELECT COUNT(*) FROM participants")
    person = client.post(f"/courses/{world.course.id}/people/new", headers=headers, follow_redirects=False,
                         content=_utf7_multipart({"csrf": csrf(client), "full_name": "+2AA-", "unit": "Đoàn"}))
    assert person.status_code == 400 and "<code>invalid_form</code>" in person.text
    assert rows(world, "SELECT COUNT(*) FROM participants") == before


def test_a_form_that_cannot_be_read_is_400_invalid_form(client, world):
    client.cookies.set("lang", "en")
    with_a_file = client.post("/login", data={"username": "lan"}, files={"password": ("p.txt", b"secret")})
    assert with_a_file.status_code == 400 and "<code>invalid_form</code>" in with_a_file.text
    no_boundary = client.post("/login", content=b"x", headers={"content-type": "multipart/form-data"})
    assert no_boundary.status_code == 400 and "<code>invalid_form</code>" in no_boundary.text


# --- against a real server: the answer comes before the body does -------------------------------------------


class CountingApp:
    """Wraps the app and counts the body bytes it has taken in: what it could have parsed or spooled."""

    def __init__(self, app):
        self.app = app
        self.received = 0

    async def __call__(self, scope, receive, send):
        async def counted():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted if scope["type"] == "http" else receive, send)


@pytest.fixture
def server(app):
    counting = CountingApp(app)
    with serving(counting) as port:
        yield port, counting


def send_until_answered(port: int, head: bytes, chunks: Iterator[bytes], budget: int) -> tuple[bytes, int]:
    """Send the head, then body chunks until the server answers or `budget` bytes are out; then read the
    answer. Without a limit the server waits for the rest of the body and the read times out."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if sent >= budget or select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):  # the server answered and closed
                break
            sent += len(chunk)
        answer = b""
        try:
            while data := sock.recv(64 * KB):
                answer += data
        except ConnectionResetError:
            pass
    return answer, sent


def _filler(size: int = 64 * KB) -> Iterator[bytes]:
    while True:
        yield b"x" * size


def test_login_refuses_a_declared_1_5_gb_multipart_body_before_reading_any_of_it(server):
    port, counting = server
    boundary = "b0undary"
    head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {1536 * MB}\r\n\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n").encode()
    answer, sent = send_until_answered(port, head, _filler(), budget=64 * MB)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"body_too_large" in answer and re.search(rb"(?i)\r\nconnection: close\r\n", answer)
    assert counting.received == 0  # refused on its declared length: nothing read, nothing spooled
    assert sent < 64 * MB


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b0"])
def test_login_cuts_off_a_chunked_body_a_few_kilobytes_in(server, content_type):
    port, counting = server
    head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode()
    start = b"--b0\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" if "multipart" in content_type \
        else b"username=lan&password="
    chunks = (b"%x\r\n%s\r\n" % (len(c), c) for c in _prefixed(start, _filler(16 * KB)))
    answer, sent = send_until_answered(port, head, chunks, budget=64 * MB)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"body_too_large" in answer
    # The app took in little more than the sign-in limit (8 kB) plus what the server had buffered.
    assert counting.received < 256 * KB
    assert sent < 64 * MB


def _prefixed(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
