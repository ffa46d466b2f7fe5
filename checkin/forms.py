"""Reading organiser forms: each field checked on the server, a message per field for the page to show.

Messages go through gettext when the form is read (inside the request), so they come out in the
organiser's language; the values typed are kept so a refused form comes back filled in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .i18n import gettext as _
from .store.courses import NewCourse, NewSession
from .store.people import PersonDetails
from .text import clean, whole_number

MAX_TEXT = 200
MAX_MINUTES = 240
MAX_PASSWORD = 200  # characters; longer input is refused, not cut
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # the course dates accepted
_TIME = re.compile(r"(\d{1,2})[:hH.](\d{2})")
USERNAME = re.compile(r"[a-z0-9._-]{1,60}")


@dataclass
class Form:
    """A submitted form: typed values in `values`, a message per field in `errors`."""

    data: Mapping[str, object]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raw(self, name: str, limit: int = 2000) -> str:
        value = self.data.get(name)
        text = clean(value if isinstance(value, str) else "")[:limit]
        self.values[name] = text
        return text

    def text(self, name: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str:
        text = self.raw(name, max_len + 1)
        if required and not text:
            self.errors[name] = _("Fill in this field.")
        elif len(text) > max_len:
            self.errors[name] = _("Too long: at most %(n)s characters.") % {"n": max_len}
        elif text[:1] in ("=", "+", "@") or (text[:1] == "-" and not text[1:2].isdigit()):
            # A value a spreadsheet would run as a formula when the attendance is exported.
            self.errors[name] = _("Cannot start with =, +, - or @.")
        return text

    def minutes(self, name: str, *, required: bool = True) -> int | None:
        text = self.raw(name, 10)
        if not text:
            if required:
                self.errors[name] = _("Fill in this field.")
            return None
        minutes = whole_number(text)
        if minutes is None or minutes > MAX_MINUTES:
            self.errors[name] = _("A number of minutes from 0 to %(n)s.") % {"n": MAX_MINUTES}
            return None
        return minutes

    def day(self, name: str) -> date | None:
        text = self.raw(name, 20)
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.errors[name] = _("A date such as 2026-11-27.") if text else _("Fill in this field.")
            return None
        # Sessions and badge lifetimes are the day plus hours: near year 1 or 9999 that overflows later.
        if not FIRST_DAY <= day <= LAST_DAY:
            self.errors[name] = _("A date from 2000-01-01 to 2100-12-31.")
            return None
        return day

    def clock_time(self, name: str, *, required: bool = True) -> time | None:
        text = self.raw(name, 10)
        match = _TIME.fullmatch(text)
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        if text or required:
            self.errors[name] = _("A time such as 08:30.") if text else _("Fill in this field.")
        return None

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        text = self.raw(name, 50)
        if text not in options:
            self.errors[name] = _("Choose one of the options.")
            return options[0]
        return text

    def zone(self, name: str) -> str:
        text = self.raw(name, 60)
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            self.errors[name] = _("An IANA time zone such as Asia/Ho_Chi_Minh.")
            return "UTC"
        return text

    def checked(self, name: str) -> bool:
        checked = self.data.get(name) in ("1", "on", "yes")
        self.values[name] = "1" if checked else ""
        return checked


def at_local(day: date, moment: time, zone: str) -> datetime:
    """A wall-clock time on the course day in the course's zone, as UTC."""
    return datetime.combine(day, moment, ZoneInfo(zone)).astimezone(timezone.utc)


def read_course(data: Mapping[str, object]) -> tuple[Form, NewCourse | None]:
    form = Form(data)
    title = form.text("title", required=True)
    day = form.day("course_date")
    zone = form.zone("time_zone")
    course = NewCourse(
        title=title, course_date=day or date.today(), time_zone=zone, venue=form.text("venue"),
        organiser_name=form.text("organiser_name"), open_before_min=form.minutes("open_before_min") or 0,
        late_after_min=form.minutes("late_after_min") or 0, after_end=form.choice("after_end", ("refuse", "late")),
    )
    return form, course if form.ok else None


def read_session(data: Mapping[str, object], day: date, zone: str) -> tuple[Form, NewSession | None]:
    form = Form(data)
    title = form.text("title", required=True)
    starts, ends = form.clock_time("starts"), form.clock_time("ends")
    if starts and ends and ends <= starts:
        form.errors["ends"] = _("The end must be after the start (a session ends on the course day).")
    open_before = form.minutes("open_before_min", required=False)
    late_after = form.minutes("late_after_min", required=False)
    if not form.ok:
        return form, None
    return form, NewSession(title, at_local(day, starts, zone), at_local(day, ends, zone), open_before, late_after)


def read_person(data: Mapping[str, object]) -> tuple[Form, PersonDetails | None]:
    from .roster import normalise_phone

    form = Form(data)
    name = form.text("full_name", required=True)
    unit = form.text("unit", required=True)
    position = form.text("position")
    phone_text = form.raw("phone", 41)  # not text(): "+84 912 345 678" is a phone number, not a formula
    phone = normalise_phone(phone_text)
    if phone.error or len(phone_text) > 40:
        form.errors["phone"] = _("A phone number such as 0912345678.")
    email = form.text("email", max_len=254).lower()
    if email and ("@" not in email or " " in email or "." not in email.rsplit("@", 1)[-1]):
        form.errors["email"] = _("An email address such as name@example.com.")
    code = form.text("member_code", max_len=60)
    if not form.ok:
        return form, None
    return form, PersonDetails(name, unit, position, phone.value, email, code)


def new_password_error(password: str, min_password: int) -> str | None:
    if len(password) < min_password:
        return _("At least %(n)s characters.") % {"n": min_password}
    if len(password) > MAX_PASSWORD:
        return _("Too long: at most %(n)s characters.") % {"n": MAX_PASSWORD}
    return None


def read_password_change(data: Mapping[str, object], min_password: int) -> tuple[Form, dict | None]:
    """Current password, a new one and the same again; nothing is echoed back into the page."""
    form = Form(data)
    current, new, again = (value if isinstance(value := data.get(name), str) else ""
                           for name in ("current", "password", "again"))
    if not current:
        form.errors["current"] = _("Fill in this field.")
    if error := new_password_error(new, min_password):
        form.errors["password"] = error
    elif new != again:
        form.errors["again"] = _("The two new passwords differ. Type the same one twice.")
    elif new == current:
        form.errors["password"] = _("This is the password you have now. Choose a new one.")
    if not form.ok:
        return form, None
    return form, {"current": current, "password": new}


def read_account(data: Mapping[str, object], min_password: int) -> tuple[Form, dict | None]:
    form = Form(data)
    username = form.text("username", required=True, max_len=60).lower()
    if username and "username" not in form.errors and not USERNAME.fullmatch(username):
        form.errors["username"] = _("Use letters a-z, digits, '.', '_' and '-' only.")
    name = form.text("display_name", required=True)
    password = data.get("password")
    password = password if isinstance(password, str) else ""
    if error := new_password_error(password, min_password):
        form.errors["password"] = error
    is_admin = form.checked("is_admin")
    if not form.ok:
        return form, None
    return form, {"username": username, "display_name": name, "password": password, "is_admin": is_admin}
