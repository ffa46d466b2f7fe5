"""The participant's badge page and images over HTTP: what is shown, what is not, and to whom."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from checkin.store import people
from checkin.store.db import transaction

from .conftest import bearer


def scan(client, token, code):
    return client.post("/api/v1/scans", json={"code": code}, headers=bearer(token))


def test_badge_page_shows_the_holder_course_programme_and_qr(client, world):
    code = world.course.codes[0]
    assert scan(client, world.course.token, code).json()["reason"] == "checked_in"  # 07:50, Khai mạc opens 07:30
    page = client.get(f"/b/{code}", headers={"Accept-Language": "vi"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "private, no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.template.name == "participant/badge.html"
    text = page.text
    for shown in ("Nguyễn Thị Hương", "Đoàn Thanh niên Sở Tài chính", "Bí thư", "Lớp bồi dưỡng cán bộ Đoàn",
                  "27/11/2026", "Hội trường", "Khai mạc", "08:00–08:30", "Chuyên đề 1", "08:40–09:30"):
        assert shown in text
    assert f'src="/b/{code}/qr.svg"' in text
    assert f'href="/b/{code}/badge.png" download' in text
    assert "Đã điểm danh lúc 07:50" in text  # checked in to the opening, in the course's zone
    assert text.count("Đã điểm danh") == 1
    assert 'lang="vi"' in text


def test_badge_page_shows_nothing_about_anyone_else_and_sets_no_cookie(client, world):
    page = client.get(f"/b/{world.course.codes[0]}")
    for other in ("Trần Văn Nam", "Lê Minh Đức", "Phạm Thu Trang", "Sở Y tế", "0912345678", "Lớp tập huấn khác",
                  world.course.codes[1]):
        assert other not in page.text
    assert "set-cookie" not in page.headers


def test_badge_page_switches_to_english(client, world):
    code = world.course.codes[1]
    switched = client.get(f"/lang/en?next=/b/{code}", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == f"/b/{code}"
    page = client.get(f"/b/{code}")
    assert 'lang="en"' in page.text
    assert "Programme of the day" in page.text and "Save image" in page.text
    assert "Trần Văn Nam" in page.text


@pytest.mark.parametrize("suffix", ["", "/badge.png", "/qr.png", "/qr.svg"])
def test_revoked_and_unknown_codes_are_404_without_saying_whose(client, world, suffix):
    code = world.course.codes[2]
    conn = world.conn()
    with transaction(conn):
        people.revoke_badge(conn, world.course.enrolments[2], world.clock())
    conn.close()
    for bad in (code, "A" * 22, "short", "has.dots.in.it.but.long"):
        answer = client.get(f"/b/{bad}{suffix}")
        assert answer.status_code == 404
        assert "Lê Minh Đức" not in answer.text and "Lớp bồi dưỡng" not in answer.text
        assert answer.headers["cache-control"] == "private, no-store"
    assert "badge_not_found" in client.get(f"/b/{code}").text


def test_reissued_badge_old_link_is_404_and_new_link_works(client, world):
    conn = world.conn()
    with transaction(conn):
        new_code = people.issue_badge(conn, world.course.enrolments[3], world.clock())
    conn.close()
    assert client.get(f"/b/{world.course.codes[3]}").status_code == 404
    assert "Phạm Thu Trang" in client.get(f"/b/{new_code}").text


def test_qr_images_decode_to_exactly_the_code(client, world):
    code = world.course.codes[0]
    png = client.get(f"/b/{code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "private, no-store"
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))[0].text == code
    svg = client.get(f"/b/{code}/qr.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.text).get("viewBox") == "0 0 33 33"  # 25 modules and a 4-module quiet zone


def test_badge_png_is_print_resolution_and_decodes(client, world):
    code = world.course.codes[1]
    answer = client.get(f"/b/{code}/badge.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert zxingcpp.read_barcodes(image)[0].text == code


def test_service_worker_is_served_at_the_badge_scope(client):
    answer = client.get("/b/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["service-worker-allowed"] == "/b/"
    assert "checkin-badge-v1" in answer.text


def test_programme_shows_late_excused_missed_and_open_sessions_in_english(client, world):
    from checkin.store import participants

    from .conftest import local

    s = world.course.sessions
    conn = world.conn()
    with transaction(conn):
        participants.set_excused(conn, world.course.enrolments[1], s[1], "sick", world.clock())
    conn.close()
    world.clock.set(local(9, 45))
    assert scan(client, world.course.token, world.course.codes[1]).json()["reason"] == "checked_in_late"
    page = client.get(f"/b/{world.course.codes[1]}", headers={"Accept-Language": "en"})
    items = [" ".join(li.split()) for li in page.text.split('<li class="session')[1:]]
    assert "No check-in recorded" in items[0]  # the opening is over, no scan
    assert "Excused" in items[1]
    assert "Checked in late at 09:45" in items[2] and 'aria-current="true"' in items[2]
    assert "sick" not in page.text  # the organiser's note stays with the organisers


def test_course_without_sessions_says_the_programme_is_not_out(client, world):
    conn = world.conn()
    with transaction(conn):
        conn.execute("DELETE FROM sessions WHERE course_id = ?", (world.course.id,))
    conn.close()
    page = client.get(f"/b/{world.course.codes[0]}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "The organisers have not published the programme yet." in page.text
