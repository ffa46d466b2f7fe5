"""Feedback per session from the badge link: once per person and session, only for sessions attended and over,
anonymous or named as the course says; the organiser's results per session and per speaker, and the xlsx."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from checkin.store import completion
from checkin.store.completion import CompletionRule, SessionRule
from checkin.store.db import transaction

from .conftest import bearer, local, rows


def scan(client, token, code, **body):
    return client.post("/api/v1/scans", json={"code": code, **body}, headers=bearer(token))


def give(client, code, session_id, content="5", speaker="4", comment="", **extra):
    return client.post(f"/b/{code}/feedback", data={"session_id": str(session_id), "content": content,
                                                      "speaker": speaker, "comment": comment, **extra},
                       headers={"Accept-Language": "en"}, follow_redirects=False)


def setup(world, client, named=False):
    conn = world.conn()
    with transaction(conn):
        completion.set_rule(conn, CompletionRule(world.course.id, feedback_named=named), world.clock())
        completion.set_session_rule(conn, SessionRule(world.course.sessions[0], speaker="TS. Lê Văn A"))
        completion.set_session_rule(conn, SessionRule(world.course.sessions[1], speaker="TS. Lê Văn A"))
    conn.close()
    world.clock.set(local(7, 55))
    for code in world.course.codes[:3]:
        scan(client, world.course.token, code)


def test_feedback_is_given_once_and_anonymous_by_default(client, world):
    setup(world, client)
    code = world.course.codes[0]
    opening = world.course.sessions[0]
    early = give(client, code, opening)
    assert early.status_code == 409 and "opens when it ends" in early.text
    world.clock.set(local(8, 31))
    page = client.get(f"/b/{code}/feedback", headers={"Accept-Language": "en"})
    assert "Your answers are anonymous" in page.text and "set-cookie" not in page.headers
    sent = give(client, code, opening, comment="Rất bổ ích =SUM(A1)")
    assert sent.status_code == 303
    again = give(client, code, opening, content="1")
    assert again.status_code == 409 and "once" in again.text
    assert rows(world, "SELECT enrolment_id, content_rating, speaker_rating, comment FROM feedback") == [
        (None, 5, 4, "Rất bổ ích =SUM(A1)")]
    assert rows(world, "SELECT enrolment_id, session_id FROM feedback_given") == [(world.course.enrolments[0], opening)]
    assert "Thank you: your feedback for this session is recorded." in client.get(
        f"/b/{code}/feedback", headers={"Accept-Language": "en"}).text


@pytest.mark.parametrize("case, fields, code, status", [
    ("rating 0", {"content": "0"}, "bad_rating", 422),
    ("rating 6", {"speaker": "6"}, "bad_rating", 422),
    ("rating text", {"content": "five"}, "bad_rating", 422),
    ("comment too long", {"comment": "x" * 2001}, "comment_too_long", 422),
    ("no such session", {"session_id": "999999"}, "unknown_session", 422),
])
def test_bad_feedback_is_refused_with_nothing_written(client, world, case, fields, code, status):
    setup(world, client)
    world.clock.set(local(8, 31))
    body = {"session_id": str(world.course.sessions[0]), "content": "4", "speaker": "4", "comment": "", **fields}
    answer = client.post(f"/b/{world.course.codes[0]}/feedback", data=body, headers={"Accept-Language": "en"})
    assert answer.status_code == status, case
    assert rows(world, "SELECT COUNT(*) FROM feedback") == [(0,)]
    assert rows(world, "SELECT COUNT(*) FROM feedback_given") == [(0,)]


def test_feedback_only_for_a_session_attended_and_not_with_a_bad_code(client, world):
    setup(world, client)
    world.clock.set(local(8, 31))
    answer = give(client, world.course.codes[3], world.course.sessions[0])  # Trang never checked in
    assert answer.status_code == 403 and "sessions you attended" in answer.text
    assert give(client, "x" * 20, world.course.sessions[0]).status_code == 404
    other = give(client, world.course.codes[0], world.other.sessions[0])  # another course's session
    assert other.status_code == 422
    assert rows(world, "SELECT COUNT(*) FROM feedback_given") == [(0,)]


def test_results_per_session_and_speaker_with_chart_comments_and_xlsx(client, world, signed_in):
    setup(world, client, named=True)
    world.clock.set(local(8, 38))
    for code in world.course.codes[:2]:
        scan(client, world.course.token, code, session_id=world.course.sessions[1])
    world.clock.set(local(9, 31))
    c = world.course
    assert give(client, c.codes[0], c.sessions[0], "5", "5", "Hay").status_code == 303
    assert give(client, c.codes[1], c.sessions[0], "3", "4").status_code == 303
    assert give(client, c.codes[2], c.sessions[0], "4", "3", "Cần thêm ví dụ").status_code == 303
    assert give(client, c.codes[0], c.sessions[1], "2", "2", "Dài quá").status_code == 303
    page = signed_in.get(f"/courses/{c.id}/feedback").text
    assert 'id="chart-content-%d"' % c.sessions[0] in page and "<svg" in page
    assert "4.00" in page  # content mean of the opening: (5 + 3 + 4) / 3
    assert "Cần thêm ví dụ" in page and "Nguyễn Thị Hương" in page  # named: the organiser sees who
    speakers = page.split('id="feedback-speakers"', 1)[1].split("</table>", 1)[0]
    assert "TS. Lê Văn A" in speakers and "<td>4</td>" in speakers  # four answers over two sessions
    xlsx = signed_in.get(f"/courses/{c.id}/feedback.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-disposition"].startswith("attachment;")
    book = load_workbook(io.BytesIO(xlsx.content))
    summary = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert summary[2][:5] == ["Khai mạc", "TS. Lê Văn A", 3, 4.0, 4.0]
    comments = [r[3] for r in book.worksheets[2].iter_rows(min_row=2, values_only=True)]
    assert sorted(comments) == sorted(["Hay", "Cần thêm ví dụ", "Dài quá"])
