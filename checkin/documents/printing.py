"""Badge printing: the store's badge links as cards, and PDF jobs run in a child process with their progress."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .badges import BadgeCard, badge_sheets_pdf, sort_cards
from ..errors import Problem
from ..i18n import gettext
from ..models import Course
from ..store.people import BadgeLink
from .workers import Workers

JOB_TTL_SECONDS = 30 * 60
MAX_JOBS = 8  # finished PDFs are kept in memory until fetched or expired; the oldest make room


def card_for(course: Course, link: BadgeLink) -> BadgeCard:
    return BadgeCard(
        code=link.code, full_name=link.full_name, unit=link.unit, position=link.position,
        course_title=course.title, course_date=course.course_date.strftime("%d/%m/%Y"), venue=course.venue,
    )


def cards_for(course: Course, links: Iterable[BadgeLink]) -> list[BadgeCard]:
    """Cards in print order: by unit, then by name as Vietnamese lists are ordered."""
    return sort_cards(card_for(course, link) for link in links)


@dataclass
class PdfJob:
    id: str
    course_id: int
    organiser_id: int
    total: int
    filename: str
    done: int = 0
    state: str = "running"  # running | done | failed
    error: str = ""
    pdf: bytes | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total, "error": self.error}


class PdfJobs:
    """PDF jobs of this process. A job belongs to the organiser and course that started it."""

    def __init__(self, workers: Workers) -> None:
        self._jobs: dict[str, PdfJob] = {}
        self._workers = workers

    def start(self, course_id: int, organiser_id: int, cards: list[BadgeCard], layout: str, logo: bytes | None,
              filename: str) -> PdfJob:
        self._expire()
        job = PdfJob(secrets.token_urlsafe(12), course_id, organiser_id, len(cards), filename)

        def progress(done: int) -> None:
            job.done = done  # an int written from the thread that waits on the child, read by the status endpoint

        async def run() -> None:
            try:
                job.pdf = await self._workers.run(badge_sheets_pdf, cards, layout, logo=logo, progress=progress)
                job.state = "done"
            except Problem as exc:  # a worker's limit: busy, too long, too much memory
                job.state, job.error = "failed", gettext(exc.message)
            except ValueError as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # reported to the organiser's page instead of dying unseen in a task
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"

        job.task = asyncio.get_running_loop().create_task(run())
        self._jobs[job.id] = job
        return job

    def running(self, course_id: int) -> int:
        return sum(1 for j in self._jobs.values() if j.course_id == course_id and j.state == "running")

    def get(self, job_id: str, course_id: int, organiser_id: int) -> PdfJob | None:
        job = self._jobs.get(job_id)
        if job is None or job.course_id != course_id or job.organiser_id != organiser_id:
            return None
        return job

    def _expire(self) -> None:
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if job.state != "running" and now - job.started > JOB_TTL_SECONDS:
                del self._jobs[job.id]
        finished = [j for j in self._jobs.values() if j.state != "running"]
        while len(self._jobs) >= MAX_JOBS and finished:
            del self._jobs[finished.pop(0).id]
