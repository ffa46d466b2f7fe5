"""Who may do what: usher devices and organiser accounts."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from ..clock import system_clock
from ..door.pairing import default_device_expiry
from ..settings import Settings
from ..store import courses, devices, organisers
from ..store.db import transaction
from .common import CommandError, choose_course, connect, read_password, say


def cmd_device_add(args, settings: Settings) -> int:
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    course = courses.get_course(conn, course_id)
    now = system_clock()
    if args.hours is not None:
        if not 0 < args.hours <= 24 * 30:
            raise CommandError("--hours must be between 0 and 720")
        expires = now + timedelta(hours=args.hours)
    else:
        expires = default_device_expiry(course.course_date, ZoneInfo(course.time_zone), courses.list_sessions(conn, course_id), now)
    label = args.label.strip() or f"Device {now.astimezone(settings.zone):%H:%M}"
    with transaction(conn):
        device_id, token = devices.insert_device(conn, course_id, label[:80], expires, now)
    print(token)
    print(f"{settings.public_url}/usher/pair#t={token}")
    say(f"Device {device_id} ({label}) paired to course {course_id} until {expires.astimezone(settings.zone):%d/%m/%Y %H:%M}.")
    return 0


def cmd_device_list(args, settings: Settings) -> int:
    conn = connect(settings)
    course_id = choose_course(conn, args.course)
    print("id\tlabel\tstate\tlast_seen\tcheck_ins")
    now = system_clock()
    for row in devices.list_devices(conn, course_id):
        d = row.device
        state = d.refusal(now) or "active"
        seen = d.last_seen_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if d.last_seen_at else "-"
        print(f"{d.id}\t{d.label}\t{state}\t{seen}\t{row.scan_count}")
    return 0


def cmd_device_revoke(args, settings: Settings) -> int:
    conn = connect(settings)
    with transaction(conn):
        changed = devices.revoke_device(conn, args.device_id, system_clock())
    if not changed:
        raise CommandError(f"device {args.device_id} does not exist or is already revoked")
    say(f"Device {args.device_id} revoked: its next scan is refused.")
    return 0


def cmd_user_add(args, settings: Settings) -> int:
    password = read_password(args)
    username = args.username.strip().lower()
    if not username or len(username) > 60 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise CommandError("the user name may hold letters, digits, '.', '_' and '-' (at most 60)")
    conn = connect(settings)
    with transaction(conn):
        if organisers.get_organiser_by_username(conn, username):
            raise CommandError(f"there is already an organiser called {username}")
        organiser_id = organisers.insert_organiser(conn, username, args.name or username, password, system_clock(), args.admin)
    print(organiser_id)
    say(f"Organiser {username} created{' (admin)' if args.admin else ''}.")
    return 0


def cmd_user_password(args, settings: Settings) -> int:
    password_hash = organisers.hash_password(read_password(args))
    conn = connect(settings)
    with transaction(conn):
        organiser = organisers.get_organiser_by_username(conn, args.username)
        if organiser is None:
            raise CommandError(f"there is no organiser called {args.username.strip().lower()}; `checkin user list`")
        ended = organisers.set_password_hash(conn, organiser.id, password_hash, system_clock())
    say(f"New password set for {organiser.username}; {len(ended)} session(s) signed in with the old one ended.")
    return 0


def cmd_user_list(args, settings: Settings) -> int:
    from ..store import course_setup

    conn = connect(settings)
    by_organiser: dict[int, list[str]] = {}
    for course in courses.list_courses(conn):
        for organiser in course_setup.list_course_organisers(conn, course.id):
            by_organiser.setdefault(organiser.id, []).append(str(course.id))
    print("id\tusername\tname\trole\tcourses")
    for o in course_setup.list_organisers(conn):
        role = ("admin" if o.is_admin else "organiser") + (" (disabled)" if o.disabled else "")
        print(f"{o.id}\t{o.username}\t{o.display_name}\t{role}\t{','.join(by_organiser.get(o.id, [])) or '-'}")
    return 0
