"""What a unit receives: the summons text (for e-mail and for Zalo, in Vietnamese, the units' language) and the
sending of links and reminders over the existing SMTP settings, each attempt recorded per unit."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from zoneinfo import ZoneInfo

import anyio.to_thread

from ..course.mailing import CannotConnect, MailRun, SmtpSender, failure_reason, looks_like_email
from ..models import Course
from ..settings import Settings
from ..store import units
from ..store.db import Database
from ..store.units import SummonedUnit, Summons


def _deadline(course: Course, summons: Summons) -> str:
    if summons.deadline is None:
        return ""
    return summons.deadline.astimezone(ZoneInfo(course.time_zone)).strftime("%H:%M ngày %d/%m/%Y")


def summons_text(course: Course, summons: Summons, unit: SummonedUnit, link: str, *, reminder: bool = False) -> str:
    """The message for the unit's secretary: short enough for a Zalo chat, complete enough for an e-mail."""
    organiser = course.organiser_name or "Ban Tổ chức"
    wanted = f"{unit.quota} đồng chí" + (f" ({unit.positions})" if unit.positions else "")
    deadline = _deadline(course, summons)
    lines = [
        f"Kính gửi {unit.name},",
        "",
        ("Nhắc lại: đơn vị chưa xác nhận danh sách cử cán bộ tham dự " if reminder else
         f"{organiser} đề nghị đơn vị cử cán bộ tham dự ") + f"{course.title}, ngày {course.course_date:%d/%m/%Y}"
        + (f" tại {course.venue}" if course.venue else "") + ".",
        f"Số lượng: {wanted}.",
    ]
    if deadline:
        lines.append(f"Hạn gửi danh sách: {deadline}.")
    lines += [
        "",
        "Đồng chí nhập và xác nhận danh sách tại đường dẫn riêng của đơn vị (mở được trên điện thoại):",
        link,
        "",
        "Đường dẫn này chỉ dành cho đơn vị; xin không chuyển ra ngoài.",
        f"Trân trọng, {organiser}.",
    ]
    return "\n".join(lines)


def summons_message(settings: Settings, course: Course, summons: Summons, unit: SummonedUnit, link: str,
                    reminder: bool) -> MIMEText:
    message = MIMEText(summons_text(course, summons, unit, link, reminder=reminder), "plain", "utf-8")
    subject = ("Nhắc gửi danh sách: " if reminder else "Đề nghị cử cán bộ: ") + course.title
    message["Subject"] = Header(subject, "utf-8")
    name, address = parseaddr(settings.smtp_sender)
    message["From"] = formataddr((name, address), charset="utf-8") if name else address
    message["To"] = formataddr((unit.contact_name or unit.name, unit.contact_email), charset="utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    return message


@dataclass(frozen=True, slots=True)
class Target:
    unit: SummonedUnit
    link: str


async def send_links(db: Database, settings: Settings, course: Course, summons: Summons, targets: list[Target],
                     kind: str, organiser_id: int, clock: Callable[[], datetime], run: MailRun) -> MailRun:
    """E-mail each unit's contact its link ("link") or a reminder, one after another; each attempt is recorded for
    the unit and counted in `run` (a unit without a valid address counts as failed). A mail server that cannot be
    reached stops the run there (run.state "stopped"): the units not reached yet keep their last result."""
    sender = SmtpSender(settings)
    try:
        for target in targets:
            unit = target.unit
            if not looks_like_email(unit.contact_email):
                await db.write(units.insert_mailing, unit.id, kind, unit.contact_email, "failed",
                               "no valid e-mail address", organiser_id, clock())
                run.failed += 1
                run.done += 1
                continue
            try:
                message = summons_message(settings, course, summons, unit, target.link, kind == "reminder")
                await anyio.to_thread.run_sync(sender.send, message)
            except CannotConnect as exc:
                await db.write(units.insert_mailing, unit.id, kind, unit.contact_email, "failed", str(exc),
                               organiser_id, clock())
                run.failed += 1
                run.done += 1
                run.state, run.error = "stopped", str(exc)
                return run
            except (smtplib.SMTPException, OSError) as exc:
                await db.write(units.insert_mailing, unit.id, kind, unit.contact_email, "failed", failure_reason(exc),
                               organiser_id, clock())
                run.failed += 1
            else:
                await db.write(units.insert_mailing, unit.id, kind, unit.contact_email, "sent", "", organiser_id,
                               clock())
                run.sent += 1
            run.done += 1
        run.state = "done"
        return run
    finally:
        await anyio.to_thread.run_sync(sender.close)
