"""Badge images under hostile load: a big logo is kept at the size a badge prints, decoding bombs are refused from
their header, a logo is decoded once per version however many ask at once, drawn badges are kept under what
changes them, and the door answers while a crowd fetches badge.png."""

from __future__ import annotations

import asyncio
import io

import httpx2 as httpx
import pytest
from PIL import Image, ImageDraw

from checkin.documents.badge_images import BadgeImages
from checkin.documents.badges import LOGO_KEPT_SIDE, BadgeCard
from checkin.errors import Problem
from checkin.store import logos, people
from checkin.store.db import transaction
from checkin.store.people import PersonDetails

from . import bombs
from .conftest import bearer, rows, sign_in
from .test_badge_pages_print import csrf_of
from .test_live_stream import server  # noqa: F401 - the real server on a free port
from .worker_jobs import sleeps


def picture(size: tuple[int, int], fmt: str = "PNG", color=(200, 30, 40)) -> bytes:
    """A logo-like picture: a coloured disc and a bar on white, which compresses to well under 1 MB at 4000 px."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 8, h // 8, 7 * w // 8, 7 * h // 8), fill=color)
    draw.rectangle((0, h // 2 - h // 20, w, h // 2 + h // 20), fill=(20, 40, 160))
    out = io.BytesIO()
    image.save(out, fmt, **({"optimize": True} if fmt == "PNG" else {"quality": 80}))
    return out.getvalue()


@pytest.fixture
def organiser(client, world):
    client.cookies.set("lang", "en")
    sign_in(client)
    return client


def upload_logo(client, world, data: bytes, name: str = "logo.png"):
    return client.post(f"/courses/{world.course.id}/badges/logo", data={"csrf": csrf_of(client, world.course.id)},
                       files={"logo": (name, data, "application/octet-stream")}, follow_redirects=False)


@pytest.mark.parametrize("fmt, size, kept", [
    ("PNG", (4000, 2000), (600, 300)),
    ("JPEG", (3000, 4000), (450, 600)),
])
def test_a_4000_px_logo_is_kept_at_the_largest_size_a_badge_prints_with_its_aspect(organiser, world, fmt, size, kept):
    data = picture(size, fmt)
    assert len(data) < 1_000_000
    assert upload_logo(organiser, world, data, f"logo.{fmt.lower()}").status_code == 303
    stored = Image.open(io.BytesIO(organiser.get(f"/courses/{world.course.id}/badges/logo").content))
    assert (stored.format, stored.size) == (fmt, kept) and max(kept) == LOGO_KEPT_SIDE


def test_a_logo_no_bigger_than_a_badge_needs_is_kept_as_it_came(organiser, world):
    data = picture((300, 200))
    assert upload_logo(organiser, world, data).status_code == 303
    assert organiser.get(f"/courses/{world.course.id}/badges/logo").content == data


@pytest.mark.parametrize("kind", ["png", "jpeg"])
@pytest.mark.parametrize("width, height", [(4001, 10), (9000, 5000), (40000, 30000), (65000, 65000)])
def test_an_image_declaring_huge_dimensions_is_refused_from_its_header_before_decoding(organiser, world, kind,
                                                                                       width, height):
    # The file holds 8 x 8 pixels: decoding it would fail as damaged, so "too big" can only come from the header.
    answer = upload_logo(organiser, world, bombs.image_header(kind, width, height), f"logo.{kind}")
    assert answer.status_code == 400 and "logo_too_big" in answer.text
    assert "The logo must be at most 4000 pixels wide and high." in answer.text
    assert rows(world, "SELECT COUNT(*) FROM course_logos") == [(0,)]


def store_logo(world, data: bytes, version: str) -> None:
    """A logo as a server before this one kept it: whatever size was uploaded, 4000 px included."""
    conn = world.conn()
    with transaction(conn):
        logos.set_logo(conn, world.course.id, "image/png", data, world.clock(), version)
    conn.close()


def test_a_crowd_fetching_badges_with_a_4000_px_logo_decodes_it_once_and_the_door_still_answers(server, world):  # noqa: F811
    store_logo(world, picture((4000, 4000)), "old-upload")
    codes = world.course.codes

    async def crowd():
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            images = [client.get(f"/b/{codes[i % len(codes)]}/badge.png") for i in range(40)]
            door = [client.post("/api/v1/scans", json={"code": code, "method": "camera"},
                                headers=bearer(world.course.token)) for code in codes]
            answers = await asyncio.gather(*images, *door)
            return answers[:40], answers[40:]

    images, door = asyncio.run(crowd())
    assert [(a.status_code, a.json()["reason"]) for a in door] == [(200, "checked_in")] * len(codes)
    drawn = [a for a in images if a.status_code == 200]
    for refused in (a for a in images if a.status_code != 200):  # a crowd beyond the drawing slots may be told to wait
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "images_busy"
        assert refused.headers["retry-after"] == "10"
    assert drawn and all(Image.open(io.BytesIO(a.content)).mode == "RGB" for a in drawn)  # RGB: the logo is on it
    badge_images = server.app.state.services.badge_images
    assert badge_images.logos_decoded == 1
    assert badge_images.badges_drawn == len({a.url.path for a in drawn})  # each badge drawn once, then kept


def test_a_new_logo_or_a_new_name_gives_a_new_image_and_asking_again_draws_nothing(organiser, world):
    code = world.course.codes[0]
    badge_images = organiser.app.state.services.badge_images
    store_logo(world, picture((800, 800), color=(200, 30, 40)), "red")
    red = organiser.get(f"/b/{code}/badge.png").content
    assert organiser.get(f"/b/{code}/badge.png").content == red
    assert (badge_images.logos_decoded, badge_images.badges_drawn) == (1, 1)

    store_logo(world, picture((800, 800), color=(30, 160, 40)), "green")
    green = organiser.get(f"/b/{code}/badge.png").content
    assert green != red and (badge_images.logos_decoded, badge_images.badges_drawn) == (2, 2)
    assert (30, 160, 40) in {c for _, c in Image.open(io.BytesIO(green)).getcolors(1_000_000)}

    conn = world.conn()
    with transaction(conn):
        participant_id = conn.execute("SELECT participant_id FROM enrolments WHERE id = ?",
                                      (world.course.enrolments[0],)).fetchone()[0]
        people.update_participant(conn, participant_id, PersonDetails(
            "Nguyễn Thị Hương Giang", "Đoàn Thanh niên Sở Tài chính", "Bí thư", "0912345678"), world.clock())
    conn.close()
    renamed = organiser.get(f"/b/{code}/badge.png").content
    assert renamed != green and (badge_images.logos_decoded, badge_images.badges_drawn) == (2, 3)


def test_with_every_drawing_slot_taken_a_badge_image_is_a_503_to_retry_in_seconds():
    card = BadgeCard("c" * 22, "Nguyễn Thị Hương", "Sở Y tế", "Bí thư", "Lớp bồi dưỡng", "27/11/2026")

    async def no_logo() -> None:
        return None

    async def scenario():
        images = BadgeImages(at_once=1, wait_seconds=0)
        try:
            other = asyncio.create_task(images.pool.run(sleeps, 2))  # the one drawing process is busy
            while images.pool.running == 0:
                await asyncio.sleep(0.01)
            with pytest.raises(Problem) as busy:
                await images.badge_png(card, None, no_logo)
            await other
            return busy.value, await images.badge_png(card, None, no_logo)
        finally:
            images.close()

    busy, png = asyncio.run(scenario())
    assert (busy.status, busy.code, busy.retry_after) == (503, "images_busy", 10)
    assert png.startswith(b"\x89PNG")
