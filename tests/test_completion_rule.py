"""The completion rule (N of M sessions, late as the course says, left_early never, feedback and reflection when
required): who completes, what each person lacks on the reports page, and certificates only for those who
complete. On both stores."""

from __future__ import annotations

from checkin.clock import to_db
from checkin.documents import certificates
from checkin.store import completion
from checkin.store.completion import CompletionRule
from checkin.store.db import transaction

from .conftest import bearer, csrf, local, rows


def scan(client, token, code, **body):
    return client.post("/api/v1/scans", json={"code": code, **body}, headers=bearer(token))


def set_rule(world, **rule):
    conn = world.conn()
    with transaction(conn):
        completion.set_rule(conn, CompletionRule(world.course.id, **rule), world.clock())
    conn.close()


def attend(client, world):
    """Hương: all three on time. Nam: all three, late to the opening. Đức: the opening and topic 1, then
    leaves topic 2 after 10 of its 50 minutes. Trang: only the opening."""
    c = world.course
    world.clock.set(local(7, 55))
    for i in (0, 2, 3):
        scan(client, c.token, c.codes[i])
    world.clock.set(local(8, 15))
    scan(client, c.token, c.codes[1])
    world.clock.set(local(8, 38))
    for i in (0, 1, 2):
        scan(client, c.token, c.codes[i], session_id=c.sessions[1])
    world.clock.set(local(9, 38))
    for i in (0, 1, 2):
        scan(client, c.token, c.codes[i], session_id=c.sessions[2])
    world.clock.set(local(9, 50))
    scan(client, c.token, c.codes[2], direction="out")
    world.clock.set(local(11, 0))


def standing(world):
    conn = world.conn()
    try:
        return {p.person.full_name: p for p in certificates.completions(conn, world.course.id, world.clock())}
    finally:
        conn.close()


def test_n_of_m_with_late_counting_and_left_early_not(client, world):
    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=3)
    attend(client, world)
    now = standing(world)
    assert now["Nguyễn Thị Hương"].complete and now["Trần Văn Nam"].complete
    duc = now["Lê Minh Đức"]
    assert not duc.complete and duc.sessions_missing == 1 and len(duc.counted) == 2  # left_early does not count
    assert now["Phạm Thu Trang"].sessions_missing == 2

    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=3, late_counts=False)
    assert not standing(world)["Trần Văn Nam"].complete

    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=2)
    assert standing(world)["Lê Minh Đức"].complete


def test_feedback_and_reflection_when_required(client, world):
    set_rule(world, min_sessions=1, require_feedback=True, require_reflection=True)
    attend(client, world)
    huong = standing(world)["Nguyễn Thị Hương"]
    assert not huong.complete and len(huong.feedback_missing) == 3 and huong.reflection == "none"
    conn = world.conn()
    e = world.course.enrolments[0]
    with transaction(conn):
        for sid in world.course.sessions:
            conn.execute("INSERT INTO feedback_given (enrolment_id, session_id, given_at) VALUES (?, ?, ?)",
                         (e, sid, to_db(world.clock())))
        conn.execute("INSERT INTO reflections (course_id, enrolment_id, state, updated_at) VALUES (?, ?, ?, ?)",
                     (world.course.id, e, "returned", to_db(world.clock())))
    huong = standing(world)["Nguyễn Thị Hương"]
    assert huong.feedback_missing == () and huong.reflection_missing and not huong.complete
    with transaction(conn):
        conn.execute("UPDATE reflections SET state = 'accepted' WHERE enrolment_id = ?", (e,))
    conn.close()
    assert standing(world)["Nguyễn Thị Hương"].complete


def test_reports_page_shows_who_completes_and_what_each_lacks(client, world, signed_in):
    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=3, require_reflection=True)
    attend(client, world)
    conn = world.conn()
    with transaction(conn):
        for e, state in ((world.course.enrolments[0], "accepted"), (world.course.enrolments[1], "returned")):
            conn.execute("INSERT INTO reflections (course_id, enrolment_id, state, updated_at) VALUES (?, ?, ?, ?)",
                         (world.course.id, e, state, to_db(world.clock())))
    conn.close()
    page = signed_in.get(f"/courses/{world.course.id}/reports").text
    assert "1 of 4 complete the course." in page
    table = page.split('id="completion-missing"', 1)[1].split("</table>", 1)[0]
    assert "Nguyễn Thị Hương" not in table
    assert "Trần Văn Nam" in table and "Reflection returned: to be resubmitted" in table
    assert "1 more session(s) present (2 of 3)" in table  # Đức, who left early
    assert "2 more session(s) present (1 of 3)" in table and "Reflection not submitted" in table  # Trang


def test_certificates_only_for_those_who_complete(client, world, signed_in):
    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=3)
    attend(client, world)
    answer = signed_in.post(f"/courses/{world.course.id}/certificates.pdf",
                            data={"csrf": csrf(signed_in, f"/courses/{world.course.id}/reports"), "lang": "en"})
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    issued = rows(world, "SELECT full_name, sessions_attended, sessions_total FROM certificates"
                         " WHERE revoked_at IS NULL ORDER BY full_name")
    assert issued == [("Nguyễn Thị Hương", 3, 3), ("Trần Văn Nam", 3, 3)]
    # Late stops counting: Nam's certificate is withdrawn when issuing again.
    set_rule(world, exit_scans=True, min_present_pct=75, min_sessions=3, late_counts=False)
    signed_in.post(f"/courses/{world.course.id}/certificates.pdf",
                   data={"csrf": csrf(signed_in, f"/courses/{world.course.id}/reports"), "lang": "en"})
    assert rows(world, "SELECT full_name FROM certificates WHERE revoked_at IS NULL") == [("Nguyễn Thị Hương",)]


def test_without_the_new_settings_certificates_are_as_before(client, world):
    c = world.course
    world.clock.set(local(7, 55))
    scan(client, c.token, c.codes[0])
    world.clock.set(local(8, 15))
    scan(client, c.token, c.codes[1])  # late counts, as it always did
    conn = world.conn()
    with transaction(conn):  # the certificate's own rule, as the reports page sets it
        certificates.set_rule_tx(conn, c.id, 1, 1, world.clock())
    plan = certificates.plan_certificates(conn, c.id, local(11, 0))
    conn.close()
    assert sorted(p[1] for p in plan.people) == ["Nguyễn Thị Hương", "Trần Văn Nam"]
    assert rows(world, "SELECT COUNT(*) FROM completion_rules") == [(0,)]
