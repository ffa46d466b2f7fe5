"""A roster imported into a new course of the same body links to the people already on record: the preview
says how, the import does it (through people.enrol), ambiguous rows become proposals."""

from __future__ import annotations

from datetime import date

from checkin.store import courses
from checkin.store.courses import NewCourse
from checkin.store.db import transaction

from .conftest import ZONE, csrf, rows
from .test_import_preview import upload, xlsx


def test_an_import_previews_and_makes_the_links_across_courses(signed_in, world):
    conn = world.conn()
    organiser_id = conn.execute("SELECT id FROM organisers WHERE username = 'lan'").fetchone()[0]
    with transaction(conn):  # the seeded courses' body ("Đoàn Khối"), a year later
        course_id = courses.insert_course(conn, NewCourse("Lớp năm sau", date(2027, 11, 27), ZONE.key,
                                                          organiser_name="Đoàn Khối"), world.clock(), organiser_id)
    table = [["Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại"],
             ["nguyen thi huong", "Đoàn Thanh niên Sở Tài chính", "Bí thư", "+84912345678"],  # by phone
             ["Trần Văn Nam", "đoàn thanh niên sở y tế", "Bí thư", ""],  # name + unit: to confirm
             ["Người Mới", "Đoàn Thanh niên Sở Y tế", "Phó Bí thư", "0900000001"]]  # new
    world.course = type(world.course)(course_id, [], [], [], "", 0, "")
    location = upload(signed_in, world, xlsx(table)).headers["location"]
    preview = signed_in.get(location)
    assert "0 by member code, 1 by phone, 1 to confirm after the import, 1 new to the records" in preview.text
    assert signed_in.post(location + "/confirm", data={"csrf": csrf(signed_in)},
                          follow_redirects=False).status_code == 303
    huong = rows(world, "SELECT DISTINCT p.person_id FROM participants p WHERE p.name_key = 'nguyen thi huong'")
    assert len(huong) == 1  # the two seeded courses and this one: one person
    body_id = conn.execute("SELECT body_id FROM courses WHERE id = ?", (course_id,)).fetchone()[0]
    proposals = signed_in.get(f"/bodies/{body_id}/proposals")
    assert proposals.text.count('class="card proposal"') >= 1 and "Trần Văn Nam" in proposals.text
