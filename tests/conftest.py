"""Shared fixtures: a real app on a temporary database (a SQLite file, and again on PostgreSQL), a
controllable clock, a seeded course.

Every test that uses `settings` (and so `world`, `app`, `client`) runs on both stores: `store` is
parametrised. PostgreSQL comes from $CHECKIN_TEST_DATABASE_URL when it is set (a database of its own per
parallel test process), otherwise from a throwaway server started once per test process from the system's
binaries (scripts/pgcluster.py); between tests its tables are emptied. Browser tests run on SQLite only (tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from checkin.app import create_app
from checkin.settings import Settings
from checkin.store import courses, devices, organisers, people
from checkin.store.courses import NewCourse, NewSession
from checkin.store.db import connect, migrate, open_sync, transaction
from checkin.store.people import PersonDetails

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import pgcluster  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
STORES = ("sqlite", "postgresql")
# The course day used by the tests: 8:00 opening, then topics, in Vietnam's time.
DAY = date(2026, 11, 27)


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=ZONE).astimezone(timezone.utc)


class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Course:
    id: int
    sessions: list[int]
    codes: list[str]  # badge codes, index i for participant i
    enrolments: list[int]
    token: str
    device_id: int
    other_token: str  # a second device of the same course


@dataclass
class World:
    settings: Settings
    clock: FakeClock
    course: Course
    other: Course  # a second course, for other_course
    organiser_password: str = "correct horse battery"
    opened: list = field(default_factory=list)

    def conn(self):
        """A connection to the test's database (closed at the end of the test if the test does not)."""
        conn = open_sync(self.settings.database)
        self.opened.append(conn)
        return conn


NAMES = [
    ("Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính", "Bí thư"),
    ("Trần Văn Nam", "Đoàn Thanh niên Sở Y tế", "Phó Bí thư"),
    ("Lê Minh Đức", "Đoàn Thanh niên Sở Tài chính", "Phó Bí thư"),
    ("Phạm Thu Trang", "Đoàn Thanh niên Cục Thuế thành phố", "Bí thư"),
]


def seed_course(conn, now: datetime, title: str, organiser_id: int | None) -> Course:
    course_id = courses.insert_course(conn, NewCourse(title=title, course_date=DAY, time_zone=ZONE.key,
                                                      venue="Hội trường", organiser_name="Đoàn Khối"), now, organiser_id)
    sessions = [
        courses.insert_session(conn, course_id, NewSession("Khai mạc", local(8, 0), local(8, 30))),
        courses.insert_session(conn, course_id, NewSession("Chuyên đề 1", local(8, 40), local(9, 30))),
        courses.insert_session(conn, course_id, NewSession("Chuyên đề 2", local(9, 40), local(10, 30),
                                                           open_before_min=5, late_after_min=0)),
    ]
    codes, enrolments = [], []
    for name, unit, position in NAMES:
        pid = people.insert_participant(conn, PersonDetails(name, unit, position, "0912345678"), now)
        enrolment_id = people.enrol(conn, course_id, pid, now)
        enrolments.append(enrolment_id)
        codes.append(people.get_enrolment_badge_holder(conn, enrolment_id).code)
    expires = local(23, 59)
    device_id, token = devices.insert_device(conn, course_id, "Cổng A", expires, now)
    _, other_token = devices.insert_device(conn, course_id, "Cổng B", expires, now)
    return Course(course_id, sessions, codes, enrolments, token, device_id, other_token)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(7, 50))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database for this test session."""
    url = os.environ.get("CHECKIN_TEST_DATABASE_URL")
    folder = None
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # tests run in parallel processes (pytest -n): gw0, gw1, ...
    if url and worker:
        url = _database_of_its_own(url, worker)
    if not url:
        # Not under pytest's temporary folder: that one is private to us, and the server may run as another user.
        folder = Path(tempfile.mkdtemp(prefix="checkin-test-pg-"))
        try:
            url = pgcluster.start(folder)
        except pgcluster.NoPostgres as exc:
            pytest.fail(f"PostgreSQL tests need a server: {exc}", pytrace=False)
    conn = connect(url)
    try:
        migrate(conn)
    finally:
        conn.close()
    yield url
    if folder is not None:
        pgcluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _database_of_its_own(url: str, worker: str) -> str:
    """The given server, with a database for this test process (dropped and created afresh): parallel test
    processes empty their tables between tests and must not empty each other's."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'checkin'}_{worker}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def empty_postgres(url: str) -> None:
    """Every table emptied and every id restarted, as a fresh migrated database has them."""
    conn = connect(url)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename NOT IN ('schema_migrations', 'counters')")]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.execute("UPDATE counters SET value = 0")
    finally:
        conn.close()


@pytest.fixture(params=STORES)
def store(request) -> str:
    return request.param


@pytest.fixture
def settings(tmp_path, store, request, monkeypatch) -> Settings:
    if store == "postgresql":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        # Commands run in the test process (checkin.cli.main) read their store from the environment.
        monkeypatch.setenv("CHECKIN_DATABASE_URL", url)
        return Settings(data_dir=tmp_path, secret_key="test-secret-key", port=8000, database_url=url)
    monkeypatch.delenv("CHECKIN_DATABASE_URL", raising=False)
    return Settings(data_dir=tmp_path, secret_key="test-secret-key", port=8000)


def db_args(settings: Settings) -> list[str]:
    """The command line's way to the test's database."""
    if settings.uses_postgres:
        return ["--database-url", settings.database_url]
    return ["--db", str(settings.db_path)]


@pytest.fixture
def world(settings, clock) -> Iterator[World]:
    conn = open_sync(settings.database)
    with transaction(conn):
        organiser_id = organisers.insert_organiser(conn, "lan", "Nguyễn Lan", "correct horse battery", clock())
        organisers.insert_organiser(conn, "outsider", "Người ngoài", "correct horse battery", clock())
        course = seed_course(conn, clock(), "Lớp bồi dưỡng cán bộ Đoàn", organiser_id)
        other = seed_course(conn, clock(), "Lớp tập huấn khác", None)
    conn.close()
    world = World(settings, clock, course, other)
    yield world
    for opened in world.opened:
        opened.close()


@pytest.fixture
def app(world):
    return create_app(world.settings, clock=world.clock)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, username: str = "lan", password: str = "correct horse battery"):
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf, "next": "/courses"},
                       follow_redirects=False)


def csrf(client, path: str = "/courses") -> str:
    """The CSRF token of a signed-in page, for posting its forms."""
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def rows(world: World, sql: str, *args) -> list[tuple]:
    conn = world.conn()
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


@pytest.fixture
def signed_in(client, world):
    """The test client signed in as the course's organiser, pages in English."""
    client.cookies.set("lang", "en")
    sign_in(client)
    return client
