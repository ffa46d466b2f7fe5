"""Long jobs an organiser starts and follows on a page (certificates for a whole course).

A job runs as a task of the server that started it, but everything about it lives in the database (store.jobs):
its stage and progress, written as it moves, and the file it leaves, in parts. So any server sharing the
database answers "how far is it" and hands over the file; and a job whose server stopped is seen as cut short
(silent for SILENT_AFTER), which its page says, so the organiser simply starts it again. The interface is
start / view / read_file; moving the task itself elsewhere (a worker queue) would not change it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import Problem
from .store import jobs as store
from .store.db import Database
from .store.courses import lock_course
from .store.jobs import Job

JOB_TTL = timedelta(minutes=30)  # a job and its file go when the next job starts after this long
SILENT_AFTER = timedelta(minutes=2)  # a running job that said nothing for so long was cut short
PART_BYTES = 256 * 1024
PART_PAUSE = 0.01
PROGRESS_EVERY = 1.0  # seconds between two progress writes within a stage
log = logging.getLogger("checkin.jobs")
_tasks: set[asyncio.Task] = set()  # held here: the event loop keeps only weak references to tasks


@dataclass(frozen=True, slots=True)
class JobFile:
    data: bytes
    filename: str
    media_type: str


class Progress:
    """What a running job tells the database: its stage and how far it is. Writes at most once a second within a
    stage (each is a short write transaction), and at once when the stage changes."""

    def __init__(self, db: Database, job_id: str, clock: Callable[[], datetime]):
        self.db, self.job_id, self.clock = db, job_id, clock
        self._stage, self._at = "", 0.0

    async def report(self, stage: str, done: int, total: int, *, force: bool = False) -> None:
        if not force and stage == self._stage and time.monotonic() - self._at < PROGRESS_EVERY:
            return
        self._stage, self._at = stage, time.monotonic()
        await self.db.write(store.update_job_progress, self.job_id, stage, done, total, self.clock())

    async def follow(self, stage: str, done: Callable[[], int], total: int,
                     detail: Callable[[], dict] | None = None) -> None:
        """Report `done()` (and `detail()`) every PROGRESS_EVERY seconds until cancelled (for work running
        elsewhere)."""
        while True:
            await self.report(stage, done(), total, force=True)
            if detail is not None:
                await self.tell(detail())
            await asyncio.sleep(PROGRESS_EVERY)

    async def tell(self, detail: dict) -> None:
        """What the job reports beside its progress (JSON-ready), for its page on any instance."""
        await self.db.write(store.update_job_detail, self.job_id, json.dumps(detail, ensure_ascii=False))


def is_silent(job: Job, now: datetime) -> bool:
    return not job.finished and now - job.updated_at > SILENT_AFTER


async def start(
    db: Database, kind: str, course_id: int, organiser_id: int, clock: Callable[[], datetime], first_stage: str,
    work: Callable[[Progress], Awaitable[JobFile]], *, total: int = 0,
) -> tuple[Job, bool]:
    """Start `work` as a job of this kind for the course, unless one is running already: returns (the job,
    whether it was started now). One running job per course and kind, checked in the write that records it."""
    await _expire(db, clock())
    job_id = secrets.token_urlsafe(12)

    def record(conn) -> Job:
        now = clock()
        lock_course(conn, course_id)  # two instances starting one at the same moment: one after the other
        running = store.get_running_job(conn, course_id, kind)
        if running is not None and not is_silent(running, now):
            return running
        if running is not None:
            store.fail_job(conn, running.id, "interrupted", now)
        store.insert_job(conn, job_id, kind, course_id, organiser_id, first_stage, now, total)
        return store.get_job(conn, job_id)

    job = await db.write(record)
    if job.id != job_id:
        return job, False
    task = asyncio.get_running_loop().create_task(_run(db, job_id, clock, work), name=f"job-{kind}-{job_id}")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return job, True


async def _run(db: Database, job_id: str, clock: Callable[[], datetime], work) -> None:
    try:
        result = await work(Progress(db, job_id, clock))
        data = memoryview(result.data)
        for number, start in enumerate(range(0, max(len(data), 1), PART_BYTES)):  # a short write per part
            await db.write(store.insert_job_part, job_id, number, bytes(data[start:start + PART_BYTES]), clock())
            await asyncio.sleep(PART_PAUSE)  # the door's scans waiting meanwhile go first
        await db.write(store.finish_job, job_id, result.filename, result.media_type, len(result.data), clock())
    except Exception as exc:  # told to the organiser's page instead of dying unseen in a task
        message = exc.message if isinstance(exc, Problem) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Problem):
            log.exception("job %s failed", job_id)
        try:
            await db.write(store.fail_job, job_id, message, clock())
        except Exception:  # the database is gone (the server is stopping): the job shows as cut short
            log.exception("job %s: failure not recorded", job_id)


async def get(db: Database, job_id: str, course_id: int, organiser_id: int) -> Job:
    """The job, if it is this organiser's on this course; else a 404 (someone else's job is not shown)."""
    job = await db.read(store.get_job, job_id)
    if job is None or job.course_id != course_id or job.organiser_id != organiser_id:
        raise Problem(404, "job_not_found", "This job is not known (or no longer kept). Start it again.")
    return job


def view(job: Job, now: datetime) -> dict:
    """The job as its page and its JSON show it: state running | done | failed (a silent one failed)."""
    if is_silent(job, now):
        state, stage, error = "failed", "failed", "interrupted"
    else:
        state = job.stage if job.finished else "running"
        stage, error = job.stage, job.error
    return {"id": job.id, "kind": job.kind, "state": state, "stage": stage, "done": job.done, "total": job.total,
            "error": error, "size": job.size}


async def read_file(db: Database, job: Job) -> AsyncIterator[bytes]:
    """The finished job's file, part by part (each a short read)."""
    if job.stage != "done":
        raise Problem(409, "job_not_done", "This job has not finished yet.")
    count = await db.read(store.count_job_parts, job.id)
    if count == 0:
        raise Problem(404, "job_not_found", "This job's file is no longer kept. Start it again.")

    async def parts() -> AsyncIterator[bytes]:
        for number in range(count):
            data = await db.read(store.get_job_part, job.id, number)
            if data is None:  # deleted meanwhile (expired): the download ends short, the browser says so
                return
            yield data

    return parts()


async def _expire(db: Database, now: datetime) -> None:
    """Delete jobs (and their files) started over JOB_TTL ago and no longer running, a few parts per write."""
    old = await db.read(store.list_expired_jobs, now - JOB_TTL, now - SILENT_AFTER)
    for job_id in old:
        while await db.write(store.delete_job_parts, job_id, 8):
            pass
    if old:
        await db.write(store.delete_jobs, old)


def as_json(job: Job, now: datetime, status_url: str, file_suffix: str) -> dict:
    """The job as a page's script polls it: view() with where to ask again and, once done, where the file is."""
    shown = view(job, now)
    return {**shown, "status_url": status_url,
            "download_url": status_url + file_suffix if shown["state"] == "done" else None}

