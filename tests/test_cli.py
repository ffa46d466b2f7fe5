"""The command line, run as a user runs it: a real process, a real database file."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field, replace

import openpyxl
import pytest

from checkin.cli import main
from checkin.settings import Settings
from checkin.store.db import open_sync


@dataclass
class Cli:
    """How the tests run `checkin`: the environment that names the store, and a way to look into it."""

    env: dict
    settings: Settings
    opened: list = field(default_factory=list)


@pytest.fixture
def cli(tmp_path, settings):
    """The command line on the test's store (a SQLite file, or PostgreSQL through $CHECKIN_DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CHECKIN_DB", "CHECKIN_DATABASE_URL")}
    env["CHECKIN_DATA_DIR"] = str(tmp_path)
    if settings.uses_postgres:
        env["CHECKIN_DATABASE_URL"] = settings.database_url
    else:
        env["CHECKIN_DB"] = str(tmp_path / "c.sqlite3")
    cli = Cli(env, replace(settings, db=tmp_path / "c.sqlite3"))
    yield cli
    for conn in cli.opened:
        conn.close()


def run(cli: Cli, *args, stdin: str | None = None, check: bool = True):
    done = subprocess.run([sys.executable, "-m", "checkin", *args], capture_output=True, text=True, env=cli.env,
                          input=stdin, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def demo(cli):
    done = run(cli, "demo", "--participants", "40", "--password", "demo-password-1")
    return int(done.stdout.strip()), done


def db(cli: Cli):
    conn = open_sync(cli.settings.database)
    cli.opened.append(conn)
    return conn


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "demo", "import", "device", "badges", "export", "user", "courses", "backup"):
        assert command in out


def test_demo_prints_its_course_id_and_where_to_go(tmp_path, cli, demo):
    course_id, done = demo
    assert course_id == 1
    assert "/login" in done.stderr and "demo-password-1" in done.stderr and "/usher/pair#t=" in done.stderr
    conn = db(cli)
    assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 7
    assert conn.execute("SELECT COUNT(*) FROM enrolments").fetchone()[0] == 40
    assert conn.execute("SELECT COUNT(DISTINCT unit_id) FROM participants").fetchone()[0] >= 30
    # Sessions already over have attendance recorded through real scans.
    assert conn.execute("SELECT COUNT(*) FROM scans WHERE accepted = 1").fetchone()[0] > 40


def test_import_is_all_or_nothing_and_reports_rows(tmp_path, cli, demo):
    bad = tmp_path / "roster.csv"
    bad.write_text("Họ và tên;Đơn vị;Số điện thoại\nNguyễn Văn An;Sở Y tế;0912000001\n;Sở Y tế;0912000002\n",
                   encoding="utf-8-sig")
    done = run(cli, "import", str(bad), check=False)
    assert done.returncode == 2
    assert "Row 3" in done.stderr and "nothing was imported" in done.stderr
    assert db(cli).execute("SELECT COUNT(*) FROM enrolments").fetchone()[0] == 40

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH HỌC VIÊN"])
    sheet.append(["STT", "Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại"])
    sheet.append([1, "Nguyễn Văn An", "Đoàn Thanh niên Sở Y tế", "Bí thư", 912000001])
    sheet.append([2, "Trần Thị Bình", "Đoàn Thanh niên Sở Y Tế ", "Phó Bí thư", 912000002])
    path = tmp_path / "roster.xlsx"
    book.save(path)
    done = run(cli, "import", str(path))
    assert "2 added" in done.stderr
    conn = db(cli)
    assert conn.execute("SELECT phone FROM participants WHERE full_name = 'Nguyễn Văn An'").fetchone()[0] == "0912000001"
    done = run(cli, "import", str(path))
    assert "0 added" in done.stderr and "2 unchanged" in done.stderr


def test_device_add_prints_token_for_scripts_and_it_works(tmp_path, cli, demo):
    done = run(cli, "device", "add", "--label", "Cổng C")
    token, link = done.stdout.strip().splitlines()
    assert len(token) >= 40 and link.endswith("/usher/pair#t=" + token)
    conn = db(cli)
    stored = [r[0] for r in conn.execute("SELECT token_hash FROM devices")]
    assert token not in stored  # only its hash is kept
    listing = run(cli, "device", "list").stdout
    assert "Cổng C" in listing and "active" in listing
    device_id = listing.strip().splitlines()[-1].split("\t")[0]
    run(cli, "device", "revoke", device_id)
    assert "device_revoked" in run(cli, "device", "list").stdout
    again = run(cli, "device", "revoke", device_id, check=False)
    assert again.returncode == 2 and "already revoked" in again.stderr


def test_badges_export_is_a_mail_merge_csv(tmp_path, cli, demo):
    text = run(cli, "badges", "export").stdout
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 40
    assert all(r["badge_link"].endswith("/b/" + r["code"]) and len(r["code"]) >= 22 for r in rows)


def test_export_writes_attendance_rows(tmp_path, cli, demo):
    out = tmp_path / "attendance.csv"
    run(cli, "export", "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 40 * 7
    statuses = {r["status"] for r in rows}
    assert {"present", "absent"} <= statuses or {"late", "absent"} <= statuses
    conn = db(cli)
    counted = conn.execute("SELECT COUNT(*) FROM attendance WHERE status IN ('present', 'late')").fetchone()[0]
    assert sum(r["status"] in ("present", "late") for r in rows) == counted


def test_several_courses_need_course_flag(tmp_path, cli, demo):
    run(cli, "demo", "--participants", "5")
    done = run(cli, "badges", "export", check=False)
    assert done.returncode == 2 and "--course" in done.stderr
    assert run(cli, "badges", "export", "--course", "2").stdout.count("/b/") == 5
    missing = run(cli, "badges", "export", "--course", "99", check=False)
    assert missing.returncode == 2 and "no course 99" in missing.stderr


def test_user_add_hashes_the_password(cli):
    done = run(cli, "user", "add", "Lan", "--name", "Nguyễn Lan", "--password-stdin", stdin="a long password\n")
    assert done.stdout.strip() == "1"
    stored = db(cli).execute("SELECT username, password_hash FROM organisers").fetchone()
    assert stored[0] == "lan" and stored[1].startswith("scrypt$") and "a long password" not in stored[1]
    short = run(cli, "user", "add", "minh", "--password-stdin", stdin="short\n", check=False)
    assert short.returncode == 2 and "at least 10" in short.stderr
    twice = run(cli, "user", "add", "lan", "--password-stdin", stdin="a long password\n", check=False)
    assert twice.returncode == 2 and "already" in twice.stderr


def test_backup_is_a_consistent_copy(tmp_path, cli, demo):
    done = run(cli, "backup", str(tmp_path / "copy.sqlite3"), check=False)
    if cli.settings.uses_postgres:  # a PostgreSQL database is backed up with its own tools
        assert done.returncode == 2 and "pg_dump" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT COUNT(*) FROM enrolments").fetchone()[0] == 40
    copy.close()


def test_migrate_brings_the_schema_up_to_date_and_then_has_nothing_to_do(cli):
    done = run(cli, "migrate")
    assert "up to date" in done.stderr or "applied" in done.stderr
    again = run(cli, "migrate")
    assert again.stdout == "" and "up to date" in again.stderr


def test_bad_setting_is_named(tmp_path):
    env = {**os.environ, "CHECKIN_DATA_DIR": str(tmp_path), "CHECKIN_TIME_ZONE": "Mars/Base"}
    done = subprocess.run([sys.executable, "-m", "checkin", "courses"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "CHECKIN_TIME_ZONE" in done.stderr


def test_import_adds_someone_sharing_a_phone_under_another_name_and_says_so(tmp_path, cli, demo):
    conn = db(cli)
    name, unit, phone = conn.execute(
        "SELECT p.full_name, u.name, p.phone FROM participants p JOIN units u ON u.id = p.unit_id"
        " WHERE p.phone != '' ORDER BY p.id LIMIT 1").fetchone()
    conn.close()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Họ và tên", "Đơn vị", "Số điện thoại"])
    sheet.append(["Hoàng Thị Yến", unit, phone])  # the unit's office phone, given by a second cadre
    path = tmp_path / "office-phone.xlsx"
    book.save(path)
    done = run(cli, "import", str(path))
    assert "1 added, 0 updated" in done.stderr
    assert f"check row 2 (Hoàng Thị Yến): same phone number as {name}" in done.stderr
    conn = db(cli)
    assert conn.execute("SELECT COUNT(*) FROM participants WHERE full_name = ?", (name,)).fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM participants WHERE phone = ?", (phone,)).fetchone()[0] == 2


def demo_password_works(cli: Cli, password: str) -> bool:
    from checkin.store import organisers

    return organisers.authenticate(db(cli), "demo", password) is not None


@pytest.mark.parametrize("real_data", ["organiser", "course"])
def test_demo_on_a_database_with_real_data_keeps_the_demo_password_and_prints_no_secret(cli, demo, real_data):
    if real_data == "organiser":
        run(cli, "user", "add", "lan", "--password-stdin", stdin="a long password\n")
    else:
        from checkin.store.db import transaction

        conn = db(cli)
        with transaction(conn):
            conn.execute("INSERT INTO courses (title, course_date, time_zone, created_at)"
                         " VALUES ('Lớp thật', '2026-11-27', 'Asia/Ho_Chi_Minh', '2026-11-01T00:00:00.000000Z')")
    done = run(cli, "demo", "--participants", "5", "--password", "another-password-2")
    assert demo_password_works(cli, "demo-password-1"), "the demo account's password is left alone"
    assert not demo_password_works(cli, "another-password-2")
    assert "another-password-2" not in done.stderr + done.stdout and "password:" not in done.stderr
    assert "#t=" not in done.stderr and "device token" not in done.stderr.lower().replace("no device token", "")
    assert "already holds real data" in done.stderr and "checkin user password demo" in done.stderr
    course_id = int(done.stdout.strip())
    assert f"/courses/{course_id}/live" in done.stderr and "checkin device add --course" in done.stderr


def test_demo_on_real_data_without_a_demo_account_makes_no_administrator(cli):
    run(cli, "user", "add", "lan", "--admin", "--password-stdin", stdin="a long password\n")
    done = run(cli, "demo", "--participants", "5")
    assert "No demo account was made" in done.stderr and "password:" not in done.stderr
    assert [tuple(r) for r in db(cli).execute("SELECT username FROM organisers")] == [("lan",)]


def test_demo_again_on_a_database_of_demos_only_prints_a_new_password(cli, demo):
    again = run(cli, "demo", "--participants", "5", "--password", "demo-password-2")
    assert "demo-password-2" in again.stderr and "#t=" in again.stderr
    assert demo_password_works(cli, "demo-password-2")


def test_demo_reset_starts_the_file_afresh_and_prints_the_password_as_make_run_shows_it(tmp_path):
    """`make run` runs `checkin demo --reset` on its own SQLite file (--reset deletes a file: SQLite only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(CHECKIN_DATA_DIR=str(tmp_path), CHECKIN_DB=str(tmp_path / "demo.sqlite3"))
    own = Cli(env, Settings(data_dir=tmp_path, db=tmp_path / "demo.sqlite3"))
    run(own, "user", "add", "lan", "--password-stdin", stdin="a long password\n")
    reset = run(own, "demo", "--participants", "5", "--reset")
    assert "password:" in reset.stderr and "/usher/pair#t=" in reset.stderr and reset.stdout.strip() == "1"


def test_demo_reset_on_postgresql_deletes_nothing_and_says_what_to_do_instead(cli, demo):
    if not cli.settings.uses_postgres:
        assert run(cli, "demo", "--participants", "5", "--reset").returncode == 0  # SQLite: a fresh file
        return
    before = db(cli).execute("SELECT COUNT(*) FROM courses").fetchone()[0]
    refused = run(cli, "demo", "--participants", "5", "--reset", check=False)
    assert refused.returncode != 0 and "dropdb" in refused.stderr and "checkin migrate" in refused.stderr
    assert db(cli).execute("SELECT COUNT(*) FROM courses").fetchone()[0] == before
