"""Member units over HTTP, on both stores: the directory (import, edit, matching roster spellings), the summons
and its board, and a unit nominating through its private link (quota, deadline, duplicates, confirmation,
substitutions decided by the organiser), every change audited with who made it."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest

from checkin.store.db import transaction
from checkin.units import links

from .conftest import csrf, rows

DIRECTORY_CSV = (
    "DANH SÁCH CƠ SỞ ĐOÀN TRỰC THUỘC\n"
    "\n"
    "STT;Tên đơn vị;Tên viết tắt;Người liên hệ (Bí thư);Số điện thoại;Email\n"
    "1;Sở Y tế;SYT;Trần Thị Mai;912 345 001;mai@syt.example.org\n"
    "2;  Sở   Tài chính ;STC;Lê Văn Hùng;0912345002;hung@stc.example.org\n"
    "3;Cục Thuế thành phố;;;;\n"
    "4;sở y tế;;;;\n"
    ";;;;;\n"
)


def import_directory(client, course_id: int, data: bytes, filename: str = "donvi.csv"):
    token = csrf(client, f"/courses/{course_id}/units/directory")
    return client.post(f"/courses/{course_id}/units/directory/import", data={"csrf": token},
                       files={"file": (filename, data)})


def summon(client, course_id: int, quotas: dict[int, int], deadline: tuple[str, str] = ("", ""), **extra):
    token = csrf(client, f"/courses/{course_id}/units")
    form = {"csrf": token, "deadline_date": deadline[0], "deadline_time": deadline[1],
            "invite": [str(i) for i in quotas], **extra}
    for entry_id, quota in quotas.items():
        form[f"quota_{entry_id}"] = str(quota)
    return client.post(f"/courses/{course_id}/units/summons", data=form, follow_redirects=False)


def directory_ids(world) -> dict[str, int]:
    return {name: i for i, name in rows(world, "SELECT id, name FROM member_units ORDER BY id")}


def unit_link(world, summoned_id: int) -> str:
    conn = world.conn()
    with transaction(conn):
        secret = links.live_secret(conn, world.settings.secret_key, summoned_id, world.clock())
    conn.close()
    return f"/u/{secret}"


def summoned_ids(world) -> dict[str, int]:
    return {name: i for i, name in rows(world, "SELECT s.id, m.name FROM summoned_units s"
                                               " JOIN member_units m ON m.id = s.member_unit_id")}


@pytest.fixture
def invited(signed_in, world):
    """Two units of the directory invited: Sở Y tế (quota 3) and Sở Tài chính (quota 2)."""
    cid = world.course.id
    assert import_directory(signed_in, cid, DIRECTORY_CSV.encode()).status_code == 200
    ids = directory_ids(world)
    assert summon(signed_in, cid, {ids["Sở Y tế"]: 3, ids["Sở Tài chính"]: 2}).status_code == 303
    return summoned_ids(world)


def page_csrf(client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def add(client, link: str, **person):
    return client.post(f"{link}/nominees", data={"csrf": page_csrf(client, link), **person}, follow_redirects=False)


def person(name: str, phone: str, **more) -> dict:
    return {"full_name": name, "position": more.pop("position", "Ủy viên BTV"), "phone": phone, **more}


# --- the directory --------------------------------------------------------------------------------------------


def test_a_messy_csv_fills_the_directory_once_per_unit(signed_in, world):
    answer = import_directory(signed_in, world.course.id, DIRECTORY_CSV.encode("utf-8"))
    assert answer.status_code == 200 and "3 added" in answer.text
    found = rows(world, "SELECT name, short_name, contact_name, contact_phone, contact_email FROM member_units ORDER BY id")
    assert found == [("Sở Y tế", "SYT", "Trần Thị Mai", "0912345001", "mai@syt.example.org"),
                     ("Sở Tài chính", "STC", "Lê Văn Hùng", "0912345002", "hung@stc.example.org"),
                     ("Cục Thuế thành phố", "", "", "", "")]
    assert "Row 7" in answer.text  # "sở y tế" again
    again = import_directory(signed_in, world.course.id, DIRECTORY_CSV.encode("utf-8"))
    assert "0 added, 0 updated" in again.text


def test_an_xlsx_directory_is_read_too(signed_in, world):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Đơn vị", "Số điện thoại", "Email"])
    sheet.append(["Công an thành phố", 912345009, "ca@example.org"])
    data = io.BytesIO()
    book.save(data)
    answer = import_directory(signed_in, world.course.id, data.getvalue(), "donvi.xlsx")
    assert answer.status_code == 200
    assert rows(world, "SELECT name, contact_phone FROM member_units") == [("Công an thành phố", "0912345009")]


def test_a_file_without_a_unit_column_is_refused_and_adds_nothing(signed_in, world):
    answer = import_directory(signed_in, world.course.id, "a,b\n1,2\n".encode())
    assert answer.status_code == 422 and "import-error" in answer.text
    assert rows(world, "SELECT COUNT(*) FROM member_units") == [(0,)]


def test_roster_spellings_get_proposals_and_are_tied_only_when_confirmed(signed_in, world):
    cid = world.course.id
    import_directory(signed_in, cid, DIRECTORY_CSV.encode())
    page = signed_in.get(f"/courses/{cid}/units/directory")
    # The seeded rosters say "Đoàn Thanh niên Sở Y tế": proposed as "Sở Y tế", not tied.
    block = page.text.split('data-spelling="Đoàn Thanh niên Sở Y tế"', 1)[1].split("</tr>", 1)[0]
    assert "Proposed: Sở Y tế" in block
    assert rows(world, "SELECT COUNT(*) FROM unit_spellings") == [(0,)]
    unit_id = rows(world, "SELECT id FROM units WHERE name = 'Đoàn Thanh niên Sở Y tế'")[0][0]
    ids = directory_ids(world)
    answer = signed_in.post(f"/courses/{cid}/units/directory/spellings", data={
        "csrf": csrf(signed_in, f"/courses/{cid}/units/directory"), "unit_id": unit_id,
        "member_unit_id": ids["Sở Y tế"]}, follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT unit_id, member_unit_id FROM unit_spellings") == [(unit_id, ids["Sở Y tế"])]
    assert 'data-spelling="Đoàn Thanh niên Sở Y tế"' not in signed_in.get(f"/courses/{cid}/units/directory").text


def test_editing_a_unit_and_refusing_a_second_with_the_same_name(signed_in, world):
    cid = world.course.id
    import_directory(signed_in, cid, DIRECTORY_CSV.encode())
    ids = directory_ids(world)
    token = csrf(signed_in, f"/courses/{cid}/units/directory")
    edited = signed_in.post(f"/courses/{cid}/units/directory", data={
        "csrf": token, "member_unit_id": ids["Cục Thuế thành phố"], "name": "Cục Thuế thành phố",
        "contact_email": "thue@example.org", "active": "1"}, follow_redirects=False)
    assert edited.status_code == 303
    same = signed_in.post(f"/courses/{cid}/units/directory", data={"csrf": token, "name": "SỞ Y TẾ"})
    assert same.status_code == 409 and "unit_exists" in same.text
    assert rows(world, "SELECT contact_email FROM member_units WHERE id = ?", ids["Cục Thuế thành phố"]) == [
        ("thue@example.org",)]


# --- the summons and the board ----------------------------------------------------------------------------------


def test_the_board_shows_each_invited_unit_and_who_has_not_answered(signed_in, world, invited):
    board = signed_in.get(f"/courses/{world.course.id}/units")
    assert board.status_code == 200
    assert "0 of 5 cadres nominated" in board.text
    assert re.search(r"Not answered yet:</strong> Sở Tài chính, Sở Y tế", board.text)


def test_unticking_a_unit_withdraws_it_and_its_link_stops_working(signed_in, world, invited):
    link = unit_link(world, invited["Sở Tài chính"])
    ids = directory_ids(world)
    summon(signed_in, world.course.id, {ids["Sở Y tế"]: 3})
    assert signed_in.get(link).status_code == 410


# --- nominating through the link --------------------------------------------------------------------------------


def test_a_unit_nominates_up_to_its_quota_and_confirms(client, world, invited):
    link = unit_link(world, invited["Sở Tài chính"])
    client.cookies.set("lang", "en")
    page = client.get(link)
    assert page.status_code == 200 and "Sở Tài chính" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    assert add(client, link, **person("Lê Thị Một", "0911000001", position="Bí thư")).status_code == 303
    assert add(client, link, **person("Ngô Văn Hai", "0911000002")).status_code == 303
    full = add(client, link, **person("Đỗ Thị Ba", "0911000003"))
    assert full.status_code == 409 and "quota_exceeded" in full.text
    assert rows(world, "SELECT COUNT(*) FROM nominees") == [(2,)]
    enrolled_before = rows(world, "SELECT COUNT(*) FROM enrolments")[0][0]
    confirm = client.post(f"{link}/confirm", data={"csrf": page_csrf(client, link)}, follow_redirects=False)
    assert confirm.status_code == 303
    assert rows(world, "SELECT COUNT(*) FROM enrolments")[0][0] == enrolled_before + 2
    assert rows(world, "SELECT n.full_name, u.name FROM nominees n JOIN enrolments e ON e.id = n.enrolment_id"
                       " JOIN participants p ON p.id = e.participant_id JOIN units u ON u.id = p.unit_id ORDER BY n.id") == [
        ("Lê Thị Một", "Sở Tài chính"), ("Ngô Văn Hai", "Sở Tài chính")]
    audit = rows(world, "SELECT action, detail, organiser_id FROM audit_log WHERE action LIKE 'nomin%' ORDER BY id")
    assert ("nominations_confirmed", "Sở Tài chính: 2/2 (unit link: Sở Tài chính)", None) in audit
    opened = rows(world, "SELECT first_opened_at IS NOT NULL, confirmed_at IS NOT NULL FROM summoned_units WHERE id = ?",
                  invited["Sở Tài chính"])
    assert opened == [(1, 1)]


def test_pasted_lines_are_added_all_or_none(client, world, invited):
    link = unit_link(world, invited["Sở Y tế"])
    client.cookies.set("lang", "en")
    pasted = "Lê Thị Một\tBí thư\t0911000001\nNgô Văn Hai;Phó Bí thư;0911000002;hai@example.org\n"
    answer = client.post(f"{link}/nominees", data={"csrf": page_csrf(client, link), "pasted": pasted},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert rows(world, "SELECT full_name, position, email FROM nominees ORDER BY id") == [
        ("Lê Thị Một", "Bí thư", ""), ("Ngô Văn Hai", "Phó Bí thư", "hai@example.org")]
    too_many = "A;;0911000011\nB;;0911000012\n"
    refused = client.post(f"{link}/nominees", data={"csrf": page_csrf(client, link), "pasted": too_many})
    assert refused.status_code == 409 and rows(world, "SELECT COUNT(*) FROM nominees") == [(2,)]


def test_the_same_person_in_another_unit_is_refused(client, world, invited):
    client.cookies.set("lang", "en")
    first, second = unit_link(world, invited["Sở Y tế"]), unit_link(world, invited["Sở Tài chính"])
    assert add(client, first, **person("Lê Thị Một", "0911000001", member_code="DV-77")).status_code == 303
    by_phone = add(client, second, **person("Lê Thị Một", "+84 911 000 001"))
    assert by_phone.status_code == 409 and "duplicate_person" in by_phone.text
    by_code = add(client, second, **person("Lê T. Một", "0911000099", member_code="dv-77"))
    assert by_code.status_code == 409 and "duplicate_person" in by_code.text
    on_roster = add(client, second, **person("Nguyễn Thị Hương", "0912345678"))  # the seeded roster's phone
    assert on_roster.status_code == 409
    twice = add(client, first, **person("Lê Thị Một", "0911000001"))
    assert twice.status_code == 409 and "already_nominated" in twice.text
    assert rows(world, "SELECT COUNT(*) FROM nominees") == [(1,)]


def test_edit_and_remove_before_confirming(client, world, invited):
    client.cookies.set("lang", "en")
    link = unit_link(world, invited["Sở Y tế"])
    add(client, link, **person("Lê Thị Mot", "0911000001"))
    nominee_id = rows(world, "SELECT id FROM nominees")[0][0]
    saved = client.post(f"{link}/nominees/{nominee_id}", data={
        "csrf": page_csrf(client, link), "action": "save", **person("Lê Thị Một", "0911000001")}, follow_redirects=False)
    assert saved.status_code == 303 and rows(world, "SELECT full_name FROM nominees") == [("Lê Thị Một",)]
    removed = client.post(f"{link}/nominees/{nominee_id}", data={"csrf": page_csrf(client, link), "action": "remove"},
                          follow_redirects=False)
    assert removed.status_code == 303 and rows(world, "SELECT COUNT(*) FROM nominees") == [(0,)]
    assert [a for a, in rows(world, "SELECT action FROM audit_log WHERE action LIKE 'nominee%' ORDER BY id")] == [
        "nominee_added", "nominee_updated", "nominee_removed"]


def test_a_confirmed_cadre_is_replaced_at_once_before_the_deadline(client, world, invited):
    client.cookies.set("lang", "en")
    link = unit_link(world, invited["Sở Y tế"])
    add(client, link, **person("Lê Thị Một", "0911000001"))
    client.post(f"{link}/confirm", data={"csrf": page_csrf(client, link)})
    old_id, old_enrolment = rows(world, "SELECT id, enrolment_id FROM nominees")[0]
    answer = client.post(f"{link}/nominees/{old_id}/substitute", data={
        "csrf": page_csrf(client, link), "reason": "đi công tác", **person("Phan Văn Mới", "0911000005")},
        follow_redirects=False)
    assert answer.status_code == 303 and "substitution_approved" in answer.headers["location"]
    assert rows(world, "SELECT state FROM unit_substitutions") == [("approved",)]
    assert rows(world, "SELECT revoked_at IS NOT NULL FROM badges WHERE enrolment_id = ?", old_enrolment) == [(1,)]
    new_enrolment = rows(world, "SELECT enrolment_id FROM nominees WHERE full_name = 'Phan Văn Mới'")[0][0]
    assert rows(world, "SELECT enrolment_id, replaces_enrolment_id FROM substitutions") == [(new_enrolment, old_enrolment)]


@pytest.fixture
def after_deadline(signed_in, world, invited):
    """Sở Y tế confirmed two cadres; then its deadline (7:00 on the course day) passed."""
    link = unit_link(world, invited["Sở Y tế"])
    add(signed_in, link, **person("Lê Thị Một", "0911000001"))
    add(signed_in, link, **person("Ngô Văn Hai", "0911000002"))
    signed_in.post(f"{link}/confirm", data={"csrf": page_csrf(signed_in, link)})
    ids = directory_ids(world)
    summon(signed_in, world.course.id, {ids["Sở Y tế"]: 3, ids["Sở Tài chính"]: 2},
           deadline=("2026-11-27", "07:00"))
    return link


def test_after_the_deadline_changes_are_refused_and_a_substitution_waits_for_the_organiser(signed_in, world,
                                                                                            after_deadline):
    link, cid = after_deadline, world.course.id
    late = add(signed_in, link, **person("Đỗ Thị Ba", "0911000003"))
    assert late.status_code == 409 and "deadline_passed" in late.text
    old_id, old_enrolment = rows(world, "SELECT id, enrolment_id FROM nominees ORDER BY id")[0]
    proposed = signed_in.post(f"{link}/nominees/{old_id}/substitute", data={
        "csrf": page_csrf(signed_in, link), "reason": "ốm", **person("Phan Văn Mới", "0911000005")},
        follow_redirects=False)
    assert "substitution_proposed" in proposed.headers["location"]
    assert rows(world, "SELECT revoked_at FROM badges WHERE enrolment_id = ?", old_enrolment) == [(None,)]
    board = signed_in.get(f"/courses/{cid}/units")
    assert "Phan Văn Mới replaces Lê Thị Một" in board.text
    sub_id = rows(world, "SELECT id FROM unit_substitutions")[0][0]
    approved = signed_in.post(f"/courses/{cid}/units/substitutions/{sub_id}", data={
        "csrf": csrf(signed_in, f"/courses/{cid}/units"), "action": "approve"}, follow_redirects=False)
    assert approved.status_code == 303
    assert rows(world, "SELECT state, organiser_id IS NOT NULL FROM unit_substitutions") == [("approved", 1)]
    assert rows(world, "SELECT revoked_at IS NOT NULL FROM badges WHERE enrolment_id = ?", old_enrolment) == [(1,)]
    new_enrolment = rows(world, "SELECT enrolment_id FROM nominees WHERE full_name = 'Phan Văn Mới'")[0][0]
    # Both people's pages keep the history.
    for enrolment in (old_enrolment, new_enrolment):
        page = signed_in.get(f"/courses/{cid}/people/{enrolment}")
        assert "substitution_approved" in page.text and "Lê Thị Một → Phan Văn Mới" in page.text
    again = signed_in.post(f"/courses/{cid}/units/substitutions/{sub_id}", data={
        "csrf": csrf(signed_in, f"/courses/{cid}/units"), "action": "refuse"})
    assert again.status_code == 409 and "substitution_decided" in again.text


def test_a_refused_substitution_changes_no_badge(signed_in, world, after_deadline):
    link, cid = after_deadline, world.course.id
    old_id = rows(world, "SELECT id FROM nominees ORDER BY id")[0][0]
    signed_in.post(f"{link}/nominees/{old_id}/substitute", data={
        "csrf": page_csrf(signed_in, link), "reason": "", **person("Phan Văn Mới", "0911000005")})
    sub_id = rows(world, "SELECT id FROM unit_substitutions")[0][0]
    badges_before = rows(world, "SELECT code, revoked_at FROM badges ORDER BY code")
    signed_in.post(f"/courses/{cid}/units/substitutions/{sub_id}", data={
        "csrf": csrf(signed_in, f"/courses/{cid}/units"), "action": "refuse", "note": "không đúng chức danh"})
    assert rows(world, "SELECT state, note FROM unit_substitutions") == [("refused", "không đúng chức danh")]
    assert rows(world, "SELECT code, revoked_at FROM badges ORDER BY code") == badges_before
    assert "không đúng chức danh" in signed_in.get(link).text


def test_someone_already_checked_in_cannot_be_replaced(signed_in, world, after_deadline):
    link = after_deadline
    old_id, old_enrolment = rows(world, "SELECT id, enrolment_id FROM nominees ORDER BY id")[0]
    code = rows(world, "SELECT code FROM badges WHERE enrolment_id = ?", old_enrolment)[0][0]
    world.clock.set(world.clock() + timedelta(minutes=15))  # 8:05, the opening
    scan = signed_in.post("/api/v1/scans", json={"code": code},
                          headers={"Authorization": f"Bearer {world.course.token}"})
    assert scan.json()["accepted"], scan.text
    refused = signed_in.post(f"{link}/nominees/{old_id}/substitute", data={
        "csrf": page_csrf(signed_in, link), "reason": "", **person("Phan Văn Mới", "0911000005")})
    assert refused.status_code == 409 and "already_checked_in" in refused.text
    assert rows(world, "SELECT COUNT(*) FROM unit_substitutions") == [(0,)]


def test_the_organiser_sees_the_units_link_and_a_vietnamese_zalo_message(signed_in, world, invited):
    page = signed_in.get(f"/courses/{world.course.id}/units/{invited['Sở Y tế']}")
    assert page.status_code == 200
    link = re.search(r'id="unit-link" href="([^"]+)"', page.text).group(1)
    assert link.endswith(unit_link(world, invited["Sở Y tế"]))  # the same link every time it is shown
    assert "Kính gửi Sở Y tế" in page.text and "Số lượng: 3 đồng chí" in page.text
    recorded = signed_in.post(f"/courses/{world.course.id}/units/{invited['Sở Y tế']}/zalo",
                              data={"csrf": csrf(signed_in, f"/courses/{world.course.id}/units"), "how": "copy"})
    assert recorded.status_code == 204
    assert rows(world, "SELECT kind, status FROM unit_mailings") == [("zalo", "copied")]


def test_a_renewed_link_revokes_the_old_one(signed_in, world, invited):
    summoned = invited["Sở Y tế"]
    old = unit_link(world, summoned)
    answer = signed_in.post(f"/courses/{world.course.id}/units/{summoned}/link",
                            data={"csrf": csrf(signed_in, f"/courses/{world.course.id}/units")}, follow_redirects=False)
    assert answer.status_code == 303
    assert signed_in.get(old).status_code == 410
    assert signed_in.get(unit_link(world, summoned)).status_code == 200
    assert rows(world, "SELECT COUNT(*) FROM unit_links WHERE revoked_at IS NOT NULL") == [(1,)]
    # The database never holds the secret itself.
    assert old.rsplit("/", 1)[1] not in str(rows(world, "SELECT * FROM unit_links"))


def test_a_unit_link_speaks_vietnamese_first(client, world, invited):
    client.cookies.set("lang", "vi")
    page = client.get(unit_link(world, invited["Sở Y tế"]))
    assert "Thêm cán bộ" in page.text and "Cán bộ của đơn vị" in page.text


# --- badges, the day, the result notice -------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


@pytest.fixture
def confirmed(signed_in, world, invited):
    """Sở Y tế confirmed Lê Thị Một and Ngô Văn Hai; Sở Tài chính confirmed Đỗ Thị Ba."""
    for unit, names in (("Sở Y tế", [("Lê Thị Một", "0911000001"), ("Ngô Văn Hai", "0911000002")]),
                        ("Sở Tài chính", [("Đỗ Thị Ba", "0911000003")])):
        link = unit_link(world, invited[unit])
        for name, phone in names:
            add(signed_in, link, **person(name, phone))
        signed_in.post(f"{link}/confirm", data={"csrf": page_csrf(signed_in, link)})
    return {u: unit_link(world, i) for u, i in invited.items()}


def test_the_units_badges_page_lists_its_own_cadres_with_their_badge_links(client, world, confirmed):
    page = client.get(f"{confirmed['Sở Y tế']}/badges")
    assert page.status_code == 200
    codes = rows(world, "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id"
                        " JOIN summoned_units s ON s.id = n.summoned_unit_id JOIN member_units m ON m.id = s.member_unit_id"
                        " WHERE m.name = 'Sở Y tế' AND b.revoked_at IS NULL")
    assert len(codes) == 2 and all(f"/b/{c}" in page.text for c, in codes)
    assert "Đỗ Thị Ba" not in page.text
    pdf = client.get(f"{confirmed['Sở Y tế']}/badges.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Lê Thị Một" in text and "Đỗ Thị Ba" not in text
    sheet = pdf_text(client.get(f"{confirmed['Sở Y tế']}/sign-in-sheet.pdf").content)
    assert "Ngô Văn Hai" in sheet and "Đỗ Thị Ba" not in sheet and "Nguyễn Thị Hương" not in sheet


def test_the_live_view_shows_who_of_the_unit_arrived_for_the_session_on_now(client, world, confirmed):
    world.clock.set(world.clock() + timedelta(minutes=15))  # 8:05, the opening
    code = rows(world, "SELECT b.code FROM badges b JOIN nominees n ON n.enrolment_id = b.enrolment_id"
                       " WHERE n.full_name = 'Lê Thị Một'")[0][0]
    scan = client.post("/api/v1/scans", json={"code": code}, headers={"Authorization": f"Bearer {world.course.token}"})
    assert scan.json()["accepted"]
    live = client.get(f"{confirmed['Sở Y tế']}/live.json").json()
    assert live["session"]["title"] == "Khai mạc"
    assert [p["name"] for p in live["arrived"]] == ["Lê Thị Một"]
    assert [p["name"] for p in live["missing"]] == ["Ngô Văn Hai"]
    page = client.get(f"{confirmed['Sở Y tế']}/live")
    assert "Ngô Văn Hai" in page.text and "Đỗ Thị Ba" not in page.text


def test_the_result_notice_names_every_unit_and_cadre_and_reaches_units_once_published(signed_in, world, confirmed):
    cid = world.course.id
    assert signed_in.get(f"{confirmed['Sở Y tế']}/results.pdf").status_code == 404
    world.clock.set(world.clock() + timedelta(hours=4))  # every session over
    text = pdf_text(signed_in.get(f"/courses/{cid}/units/results.pdf").content)
    for name in ("Sở Y tế", "Sở Tài chính", "Lê Thị Một", "Ngô Văn Hai", "Đỗ Thị Ba", "Khai mạc", "Chuyên đề 2"):
        assert name in text, name
    published = signed_in.post(f"/courses/{cid}/units/results", data={
        "csrf": csrf(signed_in, f"/courses/{cid}/units"), "action": "publish"}, follow_redirects=False)
    assert published.status_code == 303
    own = pdf_text(signed_in.get(f"{confirmed['Sở Tài chính']}/results.pdf").content)
    assert "Đỗ Thị Ba" in own and "Lê Thị Một" not in own and "Sở Y tế" not in own


def test_the_attendance_workbook_has_the_result_notice_sheet(signed_in, world, confirmed):
    answer = signed_in.get(f"/courses/{world.course.id}/exports/attendance.xlsx")
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
    sheet = book["Result notice by unit"]
    values = [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ("Unit", "Full name", "Position") and "Khai mạc" in values[0]
    assert {(r[0], r[1]) for r in values[1:]} == {("Sở Y tế", "Lê Thị Một"), ("Sở Y tế", "Ngô Văn Hai"),
                                                  ("Sở Tài chính", "Đỗ Thị Ba")}
    book.close()


def test_the_unit_x_session_table_links_each_unit_to_its_live_view(signed_in, world, confirmed):
    cid = world.course.id
    table = signed_in.get(f"/courses/{cid}/attendance").text
    summoned = summoned_ids(world)
    assert f'href="/courses/{cid}/units/{summoned["Sở Y tế"]}/live"' in table
    page = signed_in.get(f"/courses/{cid}/units/{summoned['Sở Y tế']}/live")
    assert page.status_code == 200 and "Lê Thị Một" in page.text and "Đỗ Thị Ba" not in page.text
    live = signed_in.get(f"/courses/{cid}/units/{summoned['Sở Y tế']}/live.json").json()
    assert sorted(p["name"] for p in live["missing"]) == ["Lê Thị Một", "Ngô Văn Hai"]
    dashboard = signed_in.get(f"/courses/{cid}/live.json").json()
    assert dashboard["unit_views"]["Sở Y tế"] == f"/courses/{cid}/units/{summoned['Sở Y tế']}/live"


def test_a_summons_without_a_date_has_no_deadline_and_a_bad_date_is_refused(signed_in, world, invited):
    ids = directory_ids(world)
    kept = summon(signed_in, world.course.id, {ids["Sở Y tế"]: 3}, deadline=("", "17:00"))
    assert kept.status_code == 303 and rows(world, "SELECT deadline FROM summonses") == [(None,)]
    bad = summon(signed_in, world.course.id, {ids["Sở Y tế"]: 3}, deadline=("27/11/2026", "17:00"))
    assert bad.status_code == 422 and "invalid_deadline" in bad.text


def test_a_bad_phone_in_a_replacement_is_shown_on_that_form_and_changes_nothing(client, world, invited):
    client.cookies.set("lang", "en")
    link = unit_link(world, invited["Sở Y tế"])
    add(client, link, **person("Lê Thị Một", "0911000001"))
    client.post(f"{link}/confirm", data={"csrf": page_csrf(client, link)})
    nominee_id = rows(world, "SELECT id FROM nominees")[0][0]
    answer = client.post(f"{link}/nominees/{nominee_id}/substitute", data={
        "csrf": page_csrf(client, link), "reason": "", **person("Phan Văn Mới", "12ab")})
    assert answer.status_code == 422
    assert f'id="s{nominee_id}-phone-error"' in answer.text and 'value="Phan Văn Mới"' in answer.text
    assert 'id="a-phone-error"' not in answer.text
    assert rows(world, "SELECT COUNT(*) FROM unit_substitutions") == [(0,)]
