"""Who may use each route, for every route of the app's route table and every kind of caller, from ONE table.

The table (ACCESS) names, for each "METHOD /path", the guard in front of it; the guard says who passes and what
everyone else gets (401/403/404 and its code, or the sign-in redirect). A route that is not in the table fails
the first test, so a new route cannot go without a decision. Refused callers must change no row and see no
name or badge code; ids of another course under one's own course's path are 404 and leak and write nothing.

One world and one real server serve every test here (the allowed callers run last, as they may write).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import httpx2 as httpx
import pytest
from starlette.routing import Mount, Route

from checkin.app import create_app
from checkin.settings import Settings
from checkin.store import bodies, courses, devices, imports, organisers, pairings, people, unit_directory, units
from checkin.store.courses import NewCourse, NewSession
from checkin.store.db import open_sync, transaction
from checkin.store.people import PersonDetails

from .conftest import ZONE, FakeClock, local
from .servers import serving

ANON, PARTICIPANT = "anonymous", "participant (badge link)"
USHER, USHER_OTHER, REVOKED, EXPIRED = "usher", "usher of another course", "revoked usher", "expired usher"
ORGANISER, ORGANISER_OTHER, ADMIN = "organiser", "organiser of another course", "administrator"
CALLERS = (ANON, PARTICIPANT, USHER, USHER_OTHER, REVOKED, EXPIRED, ORGANISER, ORGANISER_OTHER, ADMIN)
SIGNED_OUT = (ANON, PARTICIPANT, USHER, USHER_OTHER, REVOKED, EXPIRED)  # no organiser session
NOT_DEVICES = (ANON, PARTICIPANT, ORGANISER, ORGANISER_OTHER, ADMIN)  # no bearer token

OPERATOR_TOKEN = "operator-token-for-the-metrics"
LOGIN = (303, "/login")  # a page: the sign-in, then back
NOT_SIGNED_IN = (401, "not_signed_in")  # a form post, a download, JSON or a stream


@dataclass(frozen=True)
class Guard:
    """Who passes, and (status, code) for each caller who does not. A code None: a page without one."""

    refused: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    writes_when_refused: dict[str, str] = field(default_factory=dict)  # caller -> the one table it may add to

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(c for c in CALLERS if c not in self.refused)


def public() -> Guard:
    return Guard()


def badge_link() -> Guard:
    """The badge's code is its key: the participant holds it, everyone else tries a code that is not one."""
    return Guard({c: (404, "badge_not_found") for c in CALLERS if c != PARTICIPANT})


def unit_link() -> Guard:
    """A unit's private link: nobody here holds one, so everyone is refused the same way (units wing)."""
    return Guard({c: (404, "unit_link_not_found") for c in CALLERS})


def organiser(*, signed_out=LOGIN, course=True, admins_only=False, **extra: tuple[int, str]) -> Guard:
    """organiser_page and friends: signed in, an organiser of the path's course (administrators: any)."""
    refused = {c: signed_out for c in SIGNED_OUT}
    if admins_only:
        refused |= {ORGANISER: (403, "admins_only"), ORGANISER_OTHER: (403, "admins_only")}
    elif course:
        refused[ORGANISER_OTHER] = (403, "not_your_course")
    return Guard(refused | {_caller(k): v for k, v in extra.items()})


def device(*, other_course: tuple[int, str] | None = None, logs_refusal: bool = False) -> Guard:
    """The door's API: a paired phone of the course; another course's phone acts on its own course only."""
    refused = {c: (401, "device_token_missing") for c in NOT_DEVICES}
    refused |= {REVOKED: (403, "device_revoked"), EXPIRED: (401, "device_expired")}
    if other_course:
        refused[USHER_OTHER] = other_course
    logged = {REVOKED: "scans", EXPIRED: "scans"} if logs_refusal else {}  # the refused attempt is on record
    return Guard(refused, logged)


def _caller(name: str) -> str:
    return {"admin": ADMIN, "organiser": ORGANISER}[name]


POST_FORM = dict(signed_out=NOT_SIGNED_IN)
DOWNLOAD = dict(signed_out=NOT_SIGNED_IN)
# A PDF job and a pending import belong to the organiser who started them, not to the course.
OWN_JOB = dict(admin=(404, "job_not_found"))
OWN_IMPORT = dict(admin=(404, "import_not_found"))

ACCESS: dict[str, Guard] = {
    # The door's API
    "POST /api/v1/scans": device(logs_refusal=True),
    "POST /api/v1/scans/{scan_id}/undo": device(other_course=(404, "scan_not_found")),
    "GET /api/v1/participants": device(),
    "GET /api/v1/device": device(),
    "POST /api/v1/device/status": device(),
    "GET /api/v1/offline": device(),
    "GET /api/v1/sessions/{session_id}/count": device(other_course=(404, "unknown_session")),
    "GET /api/v1/courses/{course_id}/attendance": organiser(signed_out=NOT_SIGNED_IN),
    "GET /api/v1/openapi.json": public(),
    # Everyone's pages
    "GET /": public(),
    "GET /lang/{lang}": public(),
    "GET /login": public(),
    "POST /login": public(),
    "POST /logout": public(),
    "GET /healthz": public(),
    "GET /readyz": public(),
    # The operator: CHECKIN_METRICS_TOKEN, or an address of CHECKIN_METRICS_ALLOW (none here)
    "GET /metrics": Guard({c: (403, "not_operator") for c in CALLERS}),
    "GET /static/{path}": public(),
    "GET /verify": public(),
    "GET /verify/{code}": public(),
    "GET /usher": public(),
    "GET /usher/sw.js": public(),
    "GET /usher/pair": public(),
    "POST /usher/pair": public(),
    "GET /p/{code}": public(),
    "GET /ca": public(),
    "GET /ca.{fmt}": public(),
    "GET /b/sw.js": public(),
    # A participant's badge
    "GET /b/{code}": badge_link(),
    "GET /b/{code}/badge.png": badge_link(),
    "GET /b/{code}/qr.png": badge_link(),
    "GET /b/{code}/qr.svg": badge_link(),
    # Organisers, any course of theirs
    "GET /courses": organiser(course=False),
    "GET /courses/new": organiser(course=False),
    "POST /courses/new": organiser(course=False, **POST_FORM),
    "GET /account/password": organiser(course=False),
    "POST /account/password": organiser(course=False, **POST_FORM),
    # Administrators
    "GET /organisers": organiser(admins_only=True),
    "POST /organisers": organiser(admins_only=True, **POST_FORM),
    "POST /organisers/assign": organiser(admins_only=True, **POST_FORM),
    "POST /organisers/{organiser_id}/disable": organiser(admins_only=True, **POST_FORM),
    "POST /organisers/{organiser_id}/enable": organiser(admins_only=True, **POST_FORM),
    # Organisers of the path's course
    "GET /courses/{course_id}": organiser(),
    "GET /courses/{course_id}/edit": organiser(),
    "POST /courses/{course_id}/edit": organiser(**POST_FORM),
    "POST /courses/{course_id}/archive": organiser(**POST_FORM),
    "GET /courses/{course_id}/copy": organiser(),
    "POST /courses/{course_id}/copy": organiser(**POST_FORM),
    "POST /courses/{course_id}/organisers": organiser(**POST_FORM),
    "GET /courses/{course_id}/sessions": organiser(),
    "POST /courses/{course_id}/sessions": organiser(**POST_FORM),
    "GET /courses/{course_id}/sessions/{session_id}/edit": organiser(),
    "POST /courses/{course_id}/sessions/{session_id}/edit": organiser(**POST_FORM),
    "POST /courses/{course_id}/sessions/{session_id}/move": organiser(**POST_FORM),
    "POST /courses/{course_id}/sessions/{session_id}/delete": organiser(**POST_FORM),
    "GET /courses/{course_id}/import": organiser(),
    "POST /courses/{course_id}/import": organiser(**POST_FORM),
    "GET /courses/{course_id}/import/template.xlsx": organiser(),
    "GET /courses/{course_id}/import/{import_id}": organiser(**OWN_IMPORT),
    "POST /courses/{course_id}/import/{import_id}/confirm": organiser(**POST_FORM, **OWN_IMPORT),
    "POST /courses/{course_id}/import/{import_id}/cancel": organiser(**POST_FORM, **OWN_IMPORT),
    "GET /courses/{course_id}/people": organiser(),
    "GET /courses/{course_id}/people/new": organiser(),
    "POST /courses/{course_id}/people/new": organiser(**POST_FORM),
    "GET /courses/{course_id}/people/{enrolment_id}": organiser(),
    "GET /courses/{course_id}/people/{enrolment_id}/edit": organiser(),
    "POST /courses/{course_id}/people/{enrolment_id}/edit": organiser(**POST_FORM),
    "POST /courses/{course_id}/people/{enrolment_id}/badge": organiser(**POST_FORM),
    "POST /courses/{course_id}/people/{enrolment_id}/excuse": organiser(**POST_FORM),
    "POST /courses/{course_id}/people/{enrolment_id}/checkin": organiser(**POST_FORM),
    "POST /courses/{course_id}/people/{enrolment_id}/scans/{scan_id}/undo": organiser(**POST_FORM),
    "GET /courses/{course_id}/walk-in": organiser(),
    "POST /courses/{course_id}/walk-in": organiser(**POST_FORM),
    "GET /courses/{course_id}/audit": organiser(),
    "GET /courses/{course_id}/reports": organiser(),
    "GET /courses/{course_id}/exports/attendance.xlsx": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/exports/attendance.csv": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/exports/scan-log.csv": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/exports/audit.csv": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/sign-in-sheets.pdf": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/paper": organiser(),
    "POST /courses/{course_id}/paper": organiser(**POST_FORM),
    "POST /courses/{course_id}/certificates/rule": organiser(**POST_FORM),
    "POST /courses/{course_id}/certificates.pdf": organiser(**POST_FORM),
    "POST /courses/{course_id}/certificates/jobs": organiser(**POST_FORM),
    "GET /courses/{course_id}/certificates/jobs/{job_id}": organiser(),
    "GET /courses/{course_id}/certificates/jobs/{job_id}/pdf": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/events": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/live": organiser(),
    "GET /courses/{course_id}/live.json": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/attendance": organiser(),
    "GET /courses/{course_id}/devices": organiser(),
    "POST /courses/{course_id}/devices/pairings": organiser(**POST_FORM),
    "POST /courses/{course_id}/devices/pairings/{pairing_id}/cancel": organiser(**POST_FORM),
    "POST /courses/{course_id}/devices/{device_id}/revoke": organiser(**POST_FORM),
    "GET /courses/{course_id}/badges": organiser(),
    "GET /courses/{course_id}/badges.pdf": organiser(),
    "POST /courses/{course_id}/badges/jobs": organiser(**POST_FORM),
    "GET /courses/{course_id}/badges/jobs/{job_id}": organiser(**OWN_JOB),
    "GET /courses/{course_id}/badges/jobs/{job_id}/pdf": organiser(**OWN_JOB),
    "GET /courses/{course_id}/badges/preview.png": organiser(),
    "POST /courses/{course_id}/badges/logo": organiser(**POST_FORM),
    "GET /courses/{course_id}/badges/logo": organiser(),
    "POST /courses/{course_id}/badges/logo/delete": organiser(**POST_FORM),
    "GET /courses/{course_id}/badges/links.csv": organiser(),
    "GET /courses/{course_id}/badges/send": organiser(),
    "POST /courses/{course_id}/badges/send": organiser(**POST_FORM),
    "GET /courses/{course_id}/badges/send/status": organiser(),
    # Records wing (issue 13): a body's people across courses; both test courses belong to one body ("Đoàn"),
    # so the other course's organiser organises it too. A participant's own record behind the badge code.
    "GET /b/{code}/record": badge_link(),
    "GET /bodies/{body_id}/people": organiser(course=False),
    "GET /bodies/{body_id}/people/{person_id}": organiser(course=False),
    "GET /bodies/{body_id}/people/{person_id}/record.xlsx": organiser(course=False, **DOWNLOAD),
    "GET /bodies/{body_id}/people/{person_id}/record.pdf": organiser(course=False, **DOWNLOAD),
    "GET /bodies/{body_id}/people/{person_id}/data.json": organiser(course=False, **DOWNLOAD),
    "POST /bodies/{body_id}/people/{person_id}/merge": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/people/{person_id}/erase": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/people/{person_id}/detach": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/merges/{merge_id}/split": organiser(course=False, **POST_FORM),
    "GET /bodies/{body_id}/proposals": organiser(course=False),
    "POST /bodies/{body_id}/proposals/{proposal_id}/confirm": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/proposals/{proposal_id}/reject": organiser(course=False, **POST_FORM),
    "GET /bodies/{body_id}/programmes": organiser(course=False),
    "POST /bodies/{body_id}/programmes": organiser(course=False, **POST_FORM),
    "GET /bodies/{body_id}/programmes/{programme_id}": organiser(course=False),
    "POST /bodies/{body_id}/programmes/{programme_id}/courses": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/programmes/{programme_id}/requirements": organiser(course=False, **POST_FORM),
    "POST /bodies/{body_id}/programmes/{programme_id}/requirements/{requirement_id}/delete":
        organiser(course=False, **POST_FORM),
    "GET /bodies/{body_id}/report": organiser(course=False),
    "GET /bodies/{body_id}/report.xlsx": organiser(course=False, **DOWNLOAD),
    "GET /bodies/{body_id}/report.pdf": organiser(course=False, **DOWNLOAD),
    "GET /bodies/{body_id}/report/people": organiser(course=False),
    "GET /courses/{course_id}/records": organiser(),
    "GET /courses/{course_id}/people/{enrolment_id}/record": organiser(),
    "GET /bodies/{body_id}/retention": organiser(course=False),
    "POST /bodies/{body_id}/retention": organiser(course=False, **POST_FORM),
    # The units wing (issue 12): the organiser's directory, summons, board and unit pages; the unit's private link
    # (a bearer secret nobody here holds: every caller tries one that is not a link; tests/test_units_access.py
    # tries each route with another unit's link, a revoked one, an unknown one and none).
    "GET /courses/{course_id}/units": organiser(),
    "POST /courses/{course_id}/units/summons": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/send": organiser(**POST_FORM),
    "GET /courses/{course_id}/units/send/status": organiser(),
    "GET /courses/{course_id}/units/directory": organiser(),
    "POST /courses/{course_id}/units/directory": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/directory/import": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/directory/spellings": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/substitutions/{substitution_id}": organiser(**POST_FORM),
    "GET /courses/{course_id}/units/{summoned_id}": organiser(),
    "POST /courses/{course_id}/units/{summoned_id}/link": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/{summoned_id}/zalo": organiser(**POST_FORM),
    "GET /courses/{course_id}/units/results.pdf": organiser(**DOWNLOAD),
    "POST /courses/{course_id}/units/results": organiser(**POST_FORM),
    "POST /courses/{course_id}/units/{summoned_id}/leader": organiser(**POST_FORM),
    "GET /courses/{course_id}/units/{summoned_id}/live": organiser(),
    "GET /courses/{course_id}/units/{summoned_id}/live.json": organiser(**DOWNLOAD),
    "POST /api/v1/groups": device(),
    "POST /api/v1/groups/checkins": device(),
    "GET /usher/group": public(),
    "GET /u/{secret}": unit_link(),
    "GET /u/{secret}/badges": unit_link(),
    "GET /u/{secret}/badges.pdf": unit_link(),
    "GET /u/{secret}/sign-in-sheet.pdf": unit_link(),
    "GET /u/{secret}/live": unit_link(),
    "GET /u/{secret}/live.json": unit_link(),
    "GET /u/{secret}/results.pdf": unit_link(),
    "POST /u/{secret}/nominees": unit_link(),
    "POST /u/{secret}/nominees/{nominee_id}": unit_link(),
    "POST /u/{secret}/nominees/{nominee_id}/substitute": unit_link(),
    "POST /u/{secret}/confirm": unit_link(),
    # completion wing (issue 14)
    "GET /courses/{course_id}/completion": organiser(),
    "POST /courses/{course_id}/completion": organiser(**POST_FORM),
    "GET /courses/{course_id}/feedback": organiser(),
    "GET /courses/{course_id}/feedback.xlsx": organiser(**DOWNLOAD),
    "GET /b/{code}/feedback": badge_link(),
    "POST /b/{code}/feedback": badge_link(),
    "GET /b/{code}/reflection": badge_link(),
    "POST /b/{code}/reflection": badge_link(),
    "POST /b/{code}/reflection/draft": badge_link(),
    "POST /b/{code}/reflection/upload": badge_link(),
    "GET /courses/{course_id}/reflections": organiser(),
    "POST /courses/{course_id}/reflections/bundle": organiser(**POST_FORM),
    "GET /courses/{course_id}/reflections/jobs/{job_id}": organiser(**OWN_JOB),
    "GET /courses/{course_id}/reflections/jobs/{job_id}/file": organiser(**DOWNLOAD, **OWN_JOB),
    "GET /courses/{course_id}/reflections/{enrolment_id}": organiser(),
    "POST /courses/{course_id}/reflections/{enrolment_id}/review": organiser(**POST_FORM),
    "GET /courses/{course_id}/reflections/{enrolment_id}/file": organiser(**DOWNLOAD),
    "GET /b/{code}/room": badge_link(),
    "POST /b/{code}/room": badge_link(),
    "GET /courses/{course_id}/room": organiser(),
    "GET /courses/{course_id}/room/state.json": organiser(**DOWNLOAD),
    "GET /courses/{course_id}/room/qr.svg": organiser(**DOWNLOAD),
    "POST /courses/{course_id}/room/devices/{enrolment_id}/release": organiser(**POST_FORM),
}

# Ids in a path other than the course's: each is tried with another course's id under one's own course.
NESTED = ("session_id", "enrolment_id", "scan_id", "import_id", "job_id", "pairing_id", "device_id",
          "summoned_id", "substitution_id")


# --- the route table ----------------------------------------------------------------------------------------


def route_keys(routes, prefix: str = "") -> Iterator[str]:
    """"METHOD /path" for every route and mount of the app, path parameters without their convertors."""
    for route in routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + route.path)
        if isinstance(route, Mount):
            if route.routes:
                yield from route_keys(route.routes, path)
            else:  # an app mounted whole (the static files): everything under it
                yield f"GET {path}/{{path}}"
        elif isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield f"{method} {path}"
        else:
            raise AssertionError(f"route {path} is of a kind the authorization matrix does not know")


# --- one world: two courses, their organisers, an administrator, phones, a badge, scans, jobs ----------------


@dataclass
class Side:
    course_id: int
    sessions: list[int]
    enrolments: list[int]
    codes: list[str]
    names: list[str]
    device_id: int = 0
    spare_device_id: int = 0
    pairing_id: int = 0
    import_id: str = ""
    scan_id: int = 0
    job_id: str = ""
    summoned_id: int = 0  # units wing: an invited unit of the course, and a substitution it proposed
    substitution_id: int = 0


@dataclass
class World:
    url: str
    db_path: object
    mine: Side
    theirs: Side
    clients: dict[str, httpx.Client]
    csrf: dict[str, str]
    spare_organiser_id: int = 0  # the account the administrator's routes disable and enable

    def counts(self) -> dict[str, int]:
        conn = open_sync(self.db_path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            conn.close()

    def secrets(self) -> list[str]:
        return [*self.mine.names, *self.mine.codes, *self.theirs.names, *self.theirs.codes]


def _side(conn, now, title: str, organiser_id: int, names: list[str]) -> Side:
    course_id = courses.insert_course(conn, NewCourse(title=title, course_date=date(2026, 11, 27), time_zone=ZONE.key,
                                                      venue="Hội trường", organiser_name="Đoàn"), now, organiser_id)
    sessions = [courses.insert_session(conn, course_id, NewSession(f"Buổi {i}", local(8 + i), local(8 + i, 45)))
                for i in range(3)]
    enrolments, codes = [], []
    for name in names:
        person = people.insert_participant(conn, PersonDetails(name, "Đoàn Thanh niên", "Bí thư"), now)
        enrolments.append(people.enrol(conn, course_id, person, now))
        codes.append(people.get_enrolment_badge_holder(conn, enrolments[-1]).code)
    side = Side(course_id, sessions, enrolments, codes, names)
    side.pairing_id, _ = pairings.insert_pairing(conn, course_id, organiser_id, local(23), 5, now)
    side.import_id = imports.insert_pending_import(conn, course_id, organiser_id, "r.csv", "Họ và tên,Đơn vị\nAn,Đoàn\n".encode(), now)
    side.summoned_id, side.substitution_id = _units_of(conn, course_id, title, enrolments[0], now)
    return side


def _units_of(conn, course_id: int, title: str, enrolment_id: int, now) -> tuple[int, int]:
    """Units wing: an invited unit whose nominee (the course's first person) has a substitution waiting."""
    body = bodies.get_course_body(conn, course_id)
    entry = unit_directory.insert_member_unit(conn, body.id, unit_directory.MemberUnitDetails(f"Đơn vị của {title}"), now)
    summoned = units.summon_unit(conn, course_id, entry, 3, "", now)
    nominee = units.insert_nominee(conn, summoned, PersonDetails("Người được cử", ""), now, state="enrolled",
                                   enrolment_id=enrolment_id)
    return summoned, units.insert_substitution(conn, summoned, nominee, PersonDetails("Người thay", ""), "", now)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("authz"), secret_key="test-secret-key", port=8000,
                        metrics_token=OPERATOR_TOKEN, metrics_allow="")
    clock = FakeClock(local(7, 50))
    now, password = clock(), "correct horse battery"
    conn = open_sync(settings.db_path)
    tokens = {}
    with transaction(conn):
        lan = organisers.insert_organiser(conn, "lan", "Nguyễn Lan", password, now)
        other = organisers.insert_organiser(conn, "outsider", "Người ngoài", password, now)
        organisers.insert_organiser(conn, "root", "Quản trị", password, now, is_admin=True)
        spare = organisers.insert_organiser(conn, "spare", "Dự phòng", password, now)
        mine = _side(conn, now, "Lớp của tôi", lan, ["Hoàng Văn Anpha", "Đặng Thị Beta", "Vũ Minh Gamma"])
        theirs = _side(conn, now, "Lớp của người khác", other, ["Lý Thị Xigma", "Phan Văn Omega", "Tạ Thu Zeta"])
        mine.device_id, tokens[USHER] = devices.insert_device(conn, mine.course_id, "Cổng A", local(23), now)
        mine.spare_device_id, _ = devices.insert_device(conn, mine.course_id, "Cổng dự phòng", local(23), now)
        revoked, tokens[REVOKED] = devices.insert_device(conn, mine.course_id, "Cổng cũ", local(23), now)
        devices.revoke_device(conn, revoked, now)
        _, tokens[EXPIRED] = devices.insert_device(conn, mine.course_id, "Cổng hết hạn", local(7), now)
        theirs.device_id, tokens[USHER_OTHER] = devices.insert_device(conn, theirs.course_id, "Cổng X", local(23), now)
    conn.close()

    app = create_app(settings, clock=clock)
    with serving(app) as port:
        url = f"http://127.0.0.1:{port}"
        # A client keeps an idle connection for less than the server's 5 s keep-alive (both 5 s by default):
        # otherwise a request sent on a connection the server is closing at that moment is reset.
        clients = {c: httpx.Client(base_url=url, timeout=30, cookies={"lang": "en"},
                                   limits=httpx.Limits(keepalive_expiry=2)) for c in CALLERS}
        for caller, token in tokens.items():
            clients[caller].headers["Authorization"] = f"Bearer {token}"
        for caller, username in ((ORGANISER, "lan"), (ORGANISER_OTHER, "outsider"), (ADMIN, "root")):
            page = clients[caller].get("/login")
            signed_in = clients[caller].post("/login", data={"username": username, "password": password,
                                                             "csrf": _csrf_of(page.text)})
            assert signed_in.status_code == 303, signed_in.text
        csrf = {c: _csrf_of(clients[c].get("/login").text) for c in CALLERS}
        w = World(url, settings.db_path, mine, theirs, clients, csrf, spare)
        mine.scan_id = _scan(w, USHER, mine.codes[0])
        theirs.scan_id = _scan(w, USHER_OTHER, theirs.codes[0])
        mine.job_id = _pdf_job(w, ORGANISER, mine.course_id)
        theirs.job_id = _pdf_job(w, ORGANISER_OTHER, theirs.course_id)
        yield w
        for client in clients.values():
            client.close()


def _csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _scan(w: World, caller: str, code: str) -> int:
    answer = w.clients[caller].post("/api/v1/scans", json={"code": code})
    assert answer.json()["accepted"], answer.text
    return answer.json()["scan_id"]


def _pdf_job(w: World, caller: str, course_id: int) -> str:
    answer = w.clients[caller].post(f"/courses/{course_id}/badges/jobs", data={"csrf": w.csrf[caller]})
    assert answer.status_code == 202, answer.text
    _wait_for(w.clients[caller], answer.json()["status_url"])
    return answer.json()["id"]


def _wait_for(client: httpx.Client, status_url: str) -> None:
    deadline = time.monotonic() + 60
    while client.get(status_url).json()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)


# --- calling a route as someone -----------------------------------------------------------------------------


def fill(key: str, caller: str, w: World, nested: str | None = None) -> str:
    """The concrete path: this course's ids, the badge code only for its holder; `nested` from the other course."""
    path = key.split(" ", 1)[1]
    values = {
        "course_id": w.mine.course_id, "session_id": w.mine.sessions[0], "enrolment_id": w.mine.enrolments[1],
        "scan_id": w.mine.scan_id, "import_id": w.mine.import_id, "job_id": w.mine.job_id,
        "pairing_id": w.mine.pairing_id, "device_id": w.mine.spare_device_id, "lang": "en", "fmt": "crt",
        "path": "css/app.css", "organiser_id": w.spare_organiser_id, "code": w.mine.codes[0] if caller == PARTICIPANT else "not-a-badge-code-0000",
        # Records wing: the body of both courses, the person of mine.enrolments[1], ids of nothing yet.
        "body_id": 1, "person_id": 2, "merge_id": 1, "proposal_id": 1, "programme_id": 1, "requirement_id": 1,
        # Units wing: a unit link that is nobody's, the invited unit and substitution of my course.
        "secret": "not-a-unit-link", "summoned_id": w.mine.summoned_id, "substitution_id": w.mine.substitution_id,
        "nominee_id": 1,
    }
    if nested:
        values[nested] = {"session_id": w.theirs.sessions[0], "enrolment_id": w.theirs.enrolments[0],
                          "scan_id": w.theirs.scan_id, "import_id": w.theirs.import_id, "job_id": w.theirs.job_id,
                          "pairing_id": w.theirs.pairing_id, "device_id": w.theirs.device_id,
                          "summoned_id": w.theirs.summoned_id, "substitution_id": w.theirs.substitution_id}[nested]
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def call(key: str, caller: str, w: World, nested: str | None = None) -> httpx.Response:
    method, client = key.split(" ", 1)[0], w.clients[caller]
    url = fill(key, caller, w, nested)
    if key == "GET /courses/{course_id}/events":  # an endless stream: its answer's head is enough
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                response.read()
            return response
    if key.startswith("POST /api/v1/scans"):
        return client.post(url, json={"code": w.mine.codes[2]} if key == "POST /api/v1/scans" else None)
    if key == "POST /api/v1/device/status":
        return client.post(url, json={"queued": 0})
    if key == "GET /api/v1/participants":
        return client.get(url, params={"q": "Anpha"})
    return client.request(method, url, data={"csrf": w.csrf[caller]} if method == "POST" else None)


def outcome(response: httpx.Response) -> tuple[int, str | None]:
    """(status, code): the error code of a JSON or HTML error, or where a redirect goes."""
    if response.status_code in (301, 302, 303, 307):
        return response.status_code, response.headers["location"].split("?", 1)[0]
    if response.headers.get("content-type", "").startswith("application/json") and response.status_code >= 400:
        return response.status_code, response.json()["error"]["code"]
    if response.headers.get("content-type", "").startswith("text/html"):
        found = re.search(r"<code>([a-z_]+)</code>", response.text)
        return response.status_code, found.group(1) if found else None
    return response.status_code, None


# --- the tests ----------------------------------------------------------------------------------------------


def test_every_route_has_an_entry_in_the_authorization_matrix(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, secret_key="test-secret-key"))
    keys = list(route_keys(app.routes))
    missing = [k for k in keys if k not in ACCESS]
    assert not missing, "\n".join(f"route {k} has no entry in the authorization matrix" for k in missing)
    gone = [k for k in ACCESS if k not in keys]
    assert not gone, f"the authorization matrix names routes the app no longer has: {gone}"


@pytest.mark.parametrize("key", [k for k, g in ACCESS.items() if g.refused])
def test_callers_without_the_right_get_the_declared_refusal_and_change_nothing(world, key):
    guard = ACCESS[key]
    for caller, expected in guard.refused.items():
        before = world.counts()
        response = call(key, caller, world)
        assert outcome(response) == expected, f"{key} as {caller}: {response.status_code} {response.text[:300]}"
        body = response.text if response.status_code != 200 else ""
        leaked = [s for s in world.secrets() if s in body]
        assert not leaked, f"{key} as {caller} showed {leaked}"
        changed = {t: n - before[t] for t, n in world.counts().items() if n != before[t]}
        allowed = {guard.writes_when_refused[caller]: 1} if caller in guard.writes_when_refused else {}
        assert changed == allowed, f"{key} as {caller} wrote {changed}"


def _nested_cases() -> Iterator[tuple[str, str, str]]:
    """Each path id but the course's, from the other course: as this course's phone under /api, else as its
    organiser and as an administrator (who may see every course, but not another's ids under this one)."""
    for key in ACCESS:
        callers = (USHER,) if key.split(" ", 1)[1].startswith("/api/") else (ORGANISER, ADMIN)
        for name in NESTED:
            if "{" + name + "}" in key:
                yield from ((key, name, caller) for caller in callers)


NESTED_CASES = list(_nested_cases())


@pytest.mark.parametrize("key, nested, caller", NESTED_CASES)
def test_another_courses_ids_under_ones_own_course_are_not_found_and_change_nothing(world, key, nested, caller):
    before = world.counts()
    response = call(key, caller, world, nested=nested)
    status, code = outcome(response)
    assert status in (403, 404) and code, f"{key} with {nested} of another course: {status} {response.text[:300]}"
    leaked = [s for s in [*world.theirs.names, *world.theirs.codes] if s in response.text]
    assert not leaked, f"{key} with {nested} of another course showed {leaked}"
    assert world.counts() == before, f"{key} with {nested} of another course wrote"


def test_another_courses_phone_finds_and_admits_no_one_of_this_course(world):
    search = world.clients[USHER_OTHER].get("/api/v1/participants", params={"q": "Anpha"})
    assert search.status_code == 200 and search.json()["results"] == []
    before = world.counts()["attendance"]
    scan = world.clients[USHER_OTHER].post("/api/v1/scans", json={"code": world.mine.codes[1]})
    assert (scan.json()["reason"], scan.json()["accepted"]) == ("other_course", False)
    # The name is shown (the person is at the wrong door, holding the badge); nothing is counted.
    assert world.counts()["attendance"] == before
    foreign = world.clients[USHER].post("/api/v1/scans", json={"participant_id": world.theirs.enrolments[1],
                                                                "method": "search"})
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "participant_not_found")
    session = world.clients[USHER].post("/api/v1/scans", json={"code": world.mine.codes[1],
                                                                "session_id": world.theirs.sessions[1]})
    assert (session.status_code, session.json()["error"]["code"]) == (422, "unknown_session")
    copy = world.clients[USHER].get("/api/v1/offline")
    assert not [s for s in [*world.theirs.names, *world.theirs.codes] if s in copy.text]


def test_the_operator_reads_the_metrics_with_the_token(world):
    answer = httpx.get(f"{world.url}/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert answer.status_code == 200 and "checkin_" in answer.text


# Last: allowed callers may write (archive, revoke, re-issue a badge...); signing out ends the organisers' sessions.
ALLOWED = sorted(((k, c) for k, g in ACCESS.items() for c in g.allowed),
                 key=lambda kc: (kc[0].startswith("POST"), kc[0] == "POST /logout"))


def test_callers_with_the_right_pass_the_guard(world):
    refusals = {(401, "not_signed_in"), (401, "device_token_missing"), (401, "device_expired"),
                (403, "device_revoked"), (403, "not_your_course"), (403, "admins_only"), LOGIN}
    wrong = []
    for key, caller in ALLOWED:
        response = call(key, caller, world)
        result = outcome(response)
        if response.status_code >= 500 or result in refusals or (key.startswith("GET /b/") and result[0] == 404):
            wrong.append(f"{key} as {caller}: {result}")
        if response.status_code == 202 and "status_url" in response.text:  # a PDF job: let it finish
            _wait_for(world.clients[caller], response.json()["status_url"])
    assert not wrong, "\n".join(wrong)
