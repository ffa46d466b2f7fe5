"""Two enrolments of one cadre into two courses of one body at the same moment, on PostgreSQL (where writes run
side by side): one record, not two. On SQLite one writer holds the database, so the question does not arise.

Two locks make the second wait today: the body's row (store/persons.link_participant) and the roster-change
counter every enrolment bumps (migration 0013); the test holds the outcome whichever of them does it."""

from __future__ import annotations

import threading
import time
from datetime import date

from checkin.clock import system_clock
from checkin.store import courses, people
from checkin.store.courses import NewCourse
from checkin.store.db import connect, transaction
from checkin.store.people import PersonDetails

from .conftest import empty_postgres


def test_two_imports_at_once_link_one_cadre_to_one_record(postgres_url):
    empty_postgres(postgres_url)
    first, second = connect(postgres_url), connect(postgres_url)
    now = system_clock()
    try:
        with transaction(first):
            a = courses.insert_course(first, NewCourse("A", date(2026, 1, 1), "Asia/Ho_Chi_Minh", organiser_name="Đoàn"), now)
            b = courses.insert_course(first, NewCourse("B", date(2026, 6, 1), "Asia/Ho_Chi_Minh", organiser_name="Đoàn"), now)
            people.get_or_insert_unit(first, "Đoàn Sở Nội vụ")  # known already (its own race is not this test's)
        cadre = PersonDetails("Nguyễn Văn Cùng", "Đoàn Sở Nội vụ", "Bí thư", "0911000000", "", "DV777")
        done = threading.Event()

        def enrol_second():
            with transaction(second):
                people.enrol(second, b, people.insert_participant(second, cadre, now), now)
            done.set()

        with transaction(first):
            people.enrol(first, a, people.insert_participant(first, cadre, now), now)
            thread = threading.Thread(target=enrol_second)
            thread.start()
            time.sleep(0.5)
            assert not done.is_set()  # waiting for the first transaction
        thread.join(10)
        assert done.is_set()
        assert first.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 1
        assert first.execute("SELECT COUNT(DISTINCT person_id) FROM participants").fetchone()[0] == 1
    finally:
        first.close()
        second.close()
