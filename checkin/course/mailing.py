"""Emailing badge links over SMTP: the Vietnamese message, one SMTP connection per run, and each
person's result stored (sending -> sent | failed) so that re-sending never mails anyone twice by accident."""

from __future__ import annotations

import asyncio
import contextlib
import json
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import anyio.to_thread

from .. import jobs
from ..errors import Problem
from ..models import Course
from ..settings import Settings
from ..store import jobs as job_store
from ..store import mailings
from ..store.db import Database
from ..store.mailings import Recipient

SMTP_TIMEOUT = 20.0


def is_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host and settings.smtp_sender)


def badge_link(settings: Settings, code: str) -> str:
    return f"{settings.public_url}/b/{code}"


def badge_message(settings: Settings, course: Course, recipient: Recipient) -> MIMEText:
    """The message a participant gets: in Vietnamese, with their personal link and nothing about anyone else."""
    link = badge_link(settings, recipient.code)
    when = course.course_date.strftime("%d/%m/%Y")
    where = f"\nĐịa điểm: {course.venue}" if course.venue else ""
    organiser = course.organiser_name or "Ban Tổ chức"
    body = (
        f"Kính gửi đồng chí {recipient.full_name},\n\n"
        f"{organiser} gửi đồng chí thẻ tham dự {course.title}.\n"
        f"Thời gian: ngày {when}{where}\n\n"
        f"Thẻ tham dự (mã QR điểm danh) của đồng chí:\n{link}\n\n"
        "Đồng chí mở đường dẫn trên điện thoại một lần trước ngày học; khi đến, đưa mã QR cho người đón tiếp "
        "quét ở cửa mỗi chuyên đề (trang vẫn mở được khi không có mạng). Có thể lưu ảnh thẻ hoặc in thẻ từ trang đó.\n"
        "Đường dẫn này là của riêng đồng chí: xin đừng chuyển cho người khác.\n\n"
        f"Trân trọng,\n{organiser}\n"
    )
    # The legacy (compat32) classes on purpose: the modern policy's folding drops the space between two
    # encoded words of a long Vietnamese subject ("cán bộ" arrives as "cánbộ"); Header splits correctly.
    message = MIMEText(body, "plain", "utf-8")
    message["Subject"] = Header(f"Thẻ tham dự: {course.title}", "utf-8")
    name, address = parseaddr(settings.smtp_sender)
    message["From"] = formataddr((name, address), charset="utf-8") if name else address
    message["To"] = formataddr((recipient.full_name, recipient.email), charset="utf-8")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    return message


class CannotConnect(Exception):
    """The SMTP server could not be reached or refused the sign-in: nothing more can be sent this run."""


class SmtpSender:
    """One SMTP connection, opened on first use and re-opened after the server drops it."""

    def __init__(self, settings: Settings, timeout: float = SMTP_TIMEOUT):
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.smtp_tls == "tls":
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
                if s.smtp_tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except (smtplib.SMTPException, OSError):
            if smtp is not None:
                smtp.close()
            raise
        return smtp

    def _connect(self) -> smtplib.SMTP:
        try:
            return self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise CannotConnect(f"the SMTP server refused the sign-in ({exc.smtp_code})") from exc
        except (smtplib.SMTPException, OSError) as exc:
            s = self.settings
            raise CannotConnect(f"cannot reach the SMTP server {s.smtp_host}:{s.smtp_port}: {exc}") from exc

    def send(self, message: MIMEText) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise
        except smtplib.SMTPException:
            try:
                self._smtp.rset()  # a refused recipient leaves the transaction half open
            except (smtplib.SMTPException, OSError):
                self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def failure_reason(exc: BaseException) -> str:
    """A short reason for the organiser's table."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"recipient refused: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"refused by the server: {exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__


def looks_like_email(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and " " not in address and len(address) <= 254)


@dataclass
class MailRun:
    """One sending run of a course, as the progress view shows it."""

    course_id: int
    mode: str
    total: int
    done: int = 0
    sent: int = 0
    failed: int = 0
    state: str = "running"  # running | done | stopped (the server could not be reached)
    error: str = ""
    task: asyncio.Task | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in ("mode", "total", "done", "sent", "failed", "state", "error")}


@dataclass(frozen=True, slots=True)
class RunView:
    """A sending run as its page shows it, from its job (any instance's): what MailRun told it."""

    total: int
    done: int
    sent: int
    failed: int
    state: str  # running | done | stopped
    error: str

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in ("total", "done", "sent", "failed", "state", "error")}


async def latest_run(db: Database, course_id: int, kind: str, now: datetime) -> RunView | None:
    """The course's latest sending run of this kind (a job), started by any instance."""
    job = await db.read(job_store.get_latest_job, course_id, kind)
    if job is None:
        return None
    shown = jobs.view(job, now)
    told = json.loads(job.detail) if job.detail else {}
    state = {"running": "running", "done": "done"}.get(shown["state"], "stopped")
    return RunView(job.total, told.get("done", job.done), told.get("sent", 0), told.get("failed", 0), state,
                   shown["error"])


async def run_as_job(progress: jobs.Progress, run: MailRun, sending: Awaitable[object], filename: str) -> jobs.JobFile:
    """A sending run as the work of a job: its counts told every second for its page, a mail server that cannot
    be reached ends it with the reason (smtp_unreachable), and its summary is the job's file."""
    follower = asyncio.create_task(progress.follow("sending", lambda: run.done, run.total, run.as_json))
    try:
        await sending
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    await progress.tell(run.as_json())
    if run.state == "stopped":  # the SMTP server could not be reached: the run ends there, said so
        raise Problem(502, "smtp_unreachable", run.error)
    await progress.report("sending", run.done, run.total, force=True)
    return jobs.JobFile(json.dumps(run.as_json(), ensure_ascii=False).encode(), filename, "application/json")


async def send_badge_links(db: Database, settings: Settings, course: Course, run: MailRun, recipients: list[Recipient],
                           clock: Callable[[], datetime]) -> MailRun:
    """Mail each recipient their link, one after another, recording each result as it happens."""
    sender = SmtpSender(settings)
    try:
        for recipient in recipients:
            if not await db.write(mailings.mark_sending, course.id, recipient, clock()):
                run.done += 1  # another run is mailing this person, or has just mailed them
                continue
            try:
                if not looks_like_email(recipient.email):
                    raise ValueError("not a valid email address")
                message = badge_message(settings, course, recipient)
                await anyio.to_thread.run_sync(sender.send, message)
            except CannotConnect as exc:
                # Nothing went out: back to "failed" for this one, and stop rather than time out on everyone.
                await db.write(mailings.mark_failed, recipient.enrolment_id, str(exc), clock())
                run.failed += 1
                run.done += 1
                run.state, run.error = "stopped", str(exc)
                return run
            except (smtplib.SMTPException, OSError, ValueError) as exc:
                await db.write(mailings.mark_failed, recipient.enrolment_id, failure_reason(exc), clock())
                run.failed += 1
            else:
                await db.write(mailings.mark_sent, recipient.enrolment_id, clock())
                run.sent += 1
            run.done += 1
        run.state = "done"
        return run
    finally:
        await anyio.to_thread.run_sync(sender.close)
