"""Pages for everyone: the home page in both languages, the language switch, sign-in and sign-out."""

from __future__ import annotations

import pytest

from .conftest import sign_in


def test_home_page_speaks_vietnamese_by_default(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Điểm danh và theo dõi chuyên cần" in page.text
    assert 'href="/login"' in page.text


def test_home_page_follows_the_browser_language(client):
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text and "Check-in and attendance for one-day training courses" in page.text


def test_language_switch_is_remembered(client):
    switched = client.get("/lang/en?next=/login", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert "lang=en" in switched.headers["set-cookie"]
    page = client.get("/login")
    assert "Organiser sign-in" in page.text
    client.get("/lang/vi")
    assert "Ban Tổ chức đăng nhập" in client.get("/login").text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_language_switch_never_redirects_off_site(client, target):
    answer = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert answer.headers["location"] == "/"


def test_unknown_language_is_a_clear_404(client):
    page = client.get("/lang/fr")
    assert page.status_code == 404 and "unknown_language" in page.text


def test_sign_in_and_out(client):
    answer = sign_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/courses"
    courses = client.get("/courses")
    assert "Lớp bồi dưỡng cán bộ Đoàn" in courses.text
    assert "Lớp tập huấn khác" not in courses.text  # not this organiser's course
    csrf = courses.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/courses", follow_redirects=False).status_code == 303


def test_wrong_password_says_so_and_signs_nobody_in(client):
    answer = sign_in(client, password="wrong password")
    assert answer.status_code == 400 and "chưa đúng" in answer.text
    assert client.get("/courses", follow_redirects=False).status_code == 303


def test_sign_in_without_csrf_token_is_refused(client):
    client.get("/login")
    answer = client.post("/login", data={"username": "lan", "password": "correct horse battery"})
    assert answer.status_code == 403 and "csrf_failed" in answer.text


def test_repeated_failures_are_rate_limited(client):
    for _ in range(5):
        assert sign_in(client, password="nope nope nope").status_code == 400
    blocked = sign_in(client)  # even the right password waits now
    assert blocked.status_code == 429 and "mười lăm phút" in blocked.text


def test_another_organisers_course_is_forbidden(client, world):
    sign_in(client, username="outsider")
    page = client.get(f"/courses/{world.course.id}")
    assert page.status_code == 403 and "not_your_course" in page.text


def test_course_overview_shows_sessions_and_counts(client, world):
    sign_in(client)
    page = client.get(f"/courses/{world.course.id}")
    assert page.status_code == 200
    for title in ("Khai mạc", "Chuyên đề 1", "Chuyên đề 2"):
        assert title in page.text


def test_unknown_page_is_a_friendly_404(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "Không có trang nào ở địa chỉ này." in page.text


def test_pages_carry_a_strict_content_security_policy(client):
    headers = client.get("/").headers
    assert "script-src 'self' 'wasm-unsafe-eval'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"


def test_api_attendance_needs_an_organiser(client, world):
    answer = client.get(f"/api/v1/courses/{world.course.id}/attendance")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_signed_in"
    sign_in(client)
    body = client.get(f"/api/v1/courses/{world.course.id}/attendance").json()
    assert [s["title"] for s in body["sessions"]] == ["Khai mạc", "Chuyên đề 1", "Chuyên đề 2"]
    assert len(body["participants"]) == 4
    assert body["sessions"][0]["counts"]["pending"] == 4


def test_home_page_lists_only_this_organisers_courses(client):
    sign_in(client)
    page = client.get("/")
    assert "Lớp bồi dưỡng cán bộ Đoàn" in page.text and "Lớp tập huấn khác" not in page.text


def test_home_page_leads_to_the_demo_when_there_is_one(client, world):
    assert "Dùng thử lớp mẫu" not in client.get("/").text
    from checkin.store import organisers
    from checkin.store.db import transaction

    conn = world.conn()
    with transaction(conn):
        organisers.insert_organiser(conn, "demo", "Demo", "demo-password-1", world.clock())
    conn.close()
    page = client.get("/")
    assert "Dùng thử lớp mẫu" in page.text and 'href="/login?next=/courses"' in page.text


@pytest.mark.parametrize("path", ["/courses/99999999999999999999999", "/api/v1/courses/99999999999999999999999/attendance"])
def test_an_id_too_large_for_any_row_is_a_404(client, path):
    sign_in(client)
    assert client.get(path).status_code == 404
