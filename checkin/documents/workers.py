"""Heavy documents (badge sheets, certificates, sign-in sheets, the attendance workbook) are made in a child
process.

Drawing a PDF or writing a workbook is pure Python: in a thread it would share the interpreter lock with the
door's scans and slow the slowest of them from a few milliseconds to a hundred. A child process uses the
machine's other core instead. Children come from a fork server that has already imported the drawing code, so a job
starts in milliseconds, not in the second a fresh interpreter would take; nothing of the server's state
(database connections, the event loop, its threads) is inherited.

Each child has limits (`WorkerLimits`, from the settings): an address-space limit, a wall-clock limit after which it
is killed, and `Workers` lets only a few run at once. A limit that is hit is a `Problem` with a stable code
(`document_too_large` 413, `worker_timeout` 422, `workers_busy` 503 with Retry-After), never a stuck or dead server.
Small jobs that come in crowds (badge images) go to a `ProcessPool` of long-lived children instead of a fork each.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from ..errors import Problem
from ..i18n import current_language, set_language
from ..slots import Slots

try:
    import resource
except ImportError:  # Windows: no address-space limit there; the time and at-once limits still hold
    resource = None  # type: ignore[assignment]

_PRELOAD = ["checkin.documents.badges", "checkin.documents.certificates", "checkin.documents.signin_sheets", "checkin.documents.exports_xlsx", "checkin.roster"]
_POLL_SECONDS = 0.1
CHILD_NICENESS = 10  # documents are drawn at a lower CPU priority than the server that answers the door
_context = None
log = logging.getLogger("checkin.documents.workers")


class WorkerStopped(RuntimeError):
    """The child process ended without an answer (killed, or out of memory)."""


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    """What one document may take: `memory_mb` of address space, `seconds` of wall-clock time; `at_once` children
    at a time, and a request beyond them waits at most `wait_seconds` for one to finish."""

    memory_mb: int = 1024
    seconds: int = 300
    at_once: int = 2
    wait_seconds: float = 10.0


BUSY_RETRY_AFTER = 60


def document_too_large() -> Problem:
    return Problem(413, "document_too_large", "This document needs more memory than the server allows for one "
                   "document. Make it in smaller parts (for example one unit at a time), or ask the operator to "
                   "raise CHECKIN_WORKER_MEMORY_MB.")


def worker_timeout() -> Problem:
    return Problem(422, "worker_timeout", "Making this document took longer than the server allows, so it was "
                   "stopped. Make it in smaller parts (for example one unit at a time), or ask the operator to raise "
                   "CHECKIN_WORKER_SECONDS.")


def workers_busy() -> Problem:
    return Problem(503, "workers_busy", "The server is busy making other documents. Try again in a minute.",
                   retry_after=BUSY_RETRY_AFTER)


class Workers:
    """The server's document workers: at most `limits.at_once` children at a time, each within the limits.
    One per server process (on app.state's services); a request beyond them waits `limits.wait_seconds`, then
    gets workers_busy."""

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self._slots = Slots(limits.at_once, limits.wait_seconds, workers_busy)

    @property
    def running(self) -> int:
        return self._slots.taken

    async def run(self, fn: Callable[..., Any], *args: Any, progress: Callable[[int], None] | None = None,
                  language: str | None = None, **kwargs: Any) -> Any:
        """run_in_process(fn, *args, ...) within the limits; raises workers_busy when no slot frees in time."""
        async with self._slots.hold():
            return await run_in_process(fn, *args, progress=progress, language=language, limits=self.limits, **kwargs)


class ProcessPool:
    """Long-lived worker processes for small jobs that come in crowds (the public badge images): no fork per job, so
    the fonts and tables a job loads stay loaded; at a lower CPU priority than the server, so the door's scans come
    first; each job within `limits` (memory, seconds). At most `limits.at_once` jobs run at a time; a request
    beyond them waits `limits.wait_seconds`, then gets `busy()`."""

    JOBS_PER_PROCESS = 500  # then a fresh process: whatever a long life fragments or leaks goes back to the system

    # A lower priority, but not the lowest: at nice 10 a busy host (load 11 on 2 cores) left a pool process ~2 % of
    # the CPU and the organiser's first preview took over 5 s; at 5 it gets about three times that.
    def __init__(self, limits: WorkerLimits, busy: Callable[[], Problem], nice: int = 5) -> None:
        self.limits = limits
        self._slots = Slots(limits.at_once, limits.wait_seconds, busy)
        self._nice = nice
        self._idle: list[_Resident] = []

    @property
    def running(self) -> int:
        return self._slots.taken

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in one of the processes, in the caller's language; its result or its exception."""
        language = current_language()
        async with self._slots.hold():
            resident = self._idle_resident()
            if resident is None:
                try:
                    resident = await anyio.to_thread.run_sync(_Resident.start, self.limits, self._nice)
                except OSError as exc:  # no processes on this host: a thread still works
                    log.warning("checkin: drawing in a thread, no worker process here (%s)", exc)
                    return await anyio.to_thread.run_sync(_in_thread, fn, args, kwargs, None, language)
            answer = None
            try:
                answer = await anyio.to_thread.run_sync(resident.call, fn, args, kwargs, language, self.limits.seconds)
            finally:  # a process that timed out, died or ran out of memory is not given another job
                if answer is not None and answer[0] != "memory" and resident.jobs < self.JOBS_PER_PROCESS:
                    self._idle.append(resident)
                else:
                    await anyio.to_thread.run_sync(resident.stop)
        return _result(*answer)

    def _idle_resident(self) -> "_Resident | None":
        while self._idle:
            resident = self._idle.pop()
            if resident.process.is_alive():
                return resident
            resident.stop()  # ended while it waited (killed by someone, say): start another
        return None

    def close(self) -> None:
        while self._idle:
            self._idle.pop().stop()


class _Resident:
    """One process of a ProcessPool, and the pipe its jobs go through."""

    def __init__(self, process, connection) -> None:
        self.process = process
        self.connection = connection
        self.jobs = 0

    @classmethod
    def start(cls, limits: WorkerLimits, nice: int) -> "_Resident":
        context = _get_context()
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, limits.memory_mb * 2**20, nice), daemon=True)
        process.start()
        theirs.close()
        return cls(process, ours)

    def call(self, fn, args, kwargs, language: str, seconds: float) -> tuple[str, Any]:
        self.jobs += 1
        self.connection.send((fn, args, kwargs, language))
        return _wait(self.connection, self.process, None, None, time.monotonic() + seconds)

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except (OSError, ValueError):  # already gone
            pass
        self.connection.close()
        _reap(self.process)


def _serve(connection, memory: int, nice: int) -> None:
    """A ProcessPool's process: runs the jobs that come through `connection` until it is told to stop (None)."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    while True:
        try:
            job = connection.recv()
        except EOFError:  # the server has gone
            return
        if job is None:
            return
        fn, args, kwargs, language = job
        set_language(language)
        _send(connection, _run_limited(fn, args, kwargs, memory))


def warm_up() -> None:
    """Start the fork server now, so that the first document or badge image does not wait for its imports (seconds
    on a busy machine). For a thread at server start; a host without one is told so by the first real job."""
    context = _get_context()
    if context.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    try:
        forkserver.ensure_running()
    except OSError as exc:
        log.warning("checkin: no fork server here (%s)", exc)


def _get_context():
    global _context
    if _context is None:
        try:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(_PRELOAD)
        except ValueError:  # no fork server on this platform (Windows): a fresh interpreter per document
            _context = multiprocessing.get_context("spawn")
    return _context


async def run_in_process(fn: Callable[..., Any], *args: Any, progress: Callable[[int], None] | None = None,
                         language: str | None = None, limits: WorkerLimits | None = None, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) in a child process, its result or its exception here.

    With `progress`, fn is also given progress=callable(done, total), and `progress(done)` is called here as it
    moves. The child speaks `language` (by default the caller's). fn, its arguments and its result must pickle:
    a module-level function and plain data. With `limits`, the child gets at most `memory_mb` of address space
    (document_too_large when fn runs out) and is killed after `seconds` (worker_timeout); `at_once` is for
    `Workers` to keep."""
    context = _get_context()
    counter = context.Value("q", 0, lock=False)
    receiver, sender = context.Pipe(duplex=False)
    memory = limits.memory_mb * 2**20 if limits is not None else None
    process = context.Process(
        target=_child, daemon=True,
        args=(sender, counter, fn, args, kwargs, progress is not None, language or current_language(), memory),
    )
    # Off the event loop: the first start launches the fork server and waits for its imports.
    try:
        await anyio.to_thread.run_sync(process.start)
    except OSError as exc:  # a host that allows no fork server (no fork, no Unix sockets): a thread still works
        sender.close()
        receiver.close()
        log.warning("checkin: making a document in a thread, no worker process here (%s)", exc)
        return await anyio.to_thread.run_sync(
            _in_thread, fn, args, kwargs, progress, language or current_language())
    sender.close()
    deadline = time.monotonic() + limits.seconds if limits is not None else None
    try:
        kind, value = await anyio.to_thread.run_sync(_wait, receiver, process, counter, progress, deadline)
    finally:
        receiver.close()
        await anyio.to_thread.run_sync(_reap, process)
    return _result(kind, value)


def _result(kind: str, value: Any) -> Any:
    if kind == "memory":
        raise document_too_large()
    if kind == "error":
        raise value
    return value


def _in_thread(fn, args, kwargs, progress, language: str) -> Any:
    set_language(language)  # this thread runs in a copy of the caller's context: the change stays here
    if progress is None:
        return fn(*args, **kwargs)
    return fn(*args, progress=lambda done, total=None: progress(done), **kwargs)


def _child(sender, counter, fn, args, kwargs, with_progress: bool, language: str, memory: int | None) -> None:
    set_language(language)  # the words of the document in the language its caller chose
    if hasattr(os, "nice"):
        # A document can wait a moment; the door cannot. On a busy machine the server's scans go first.
        os.nice(CHILD_NICENESS)

    def progress(done: int, total: int | None = None) -> None:
        counter.value = done

    try:
        _send(sender, _run_limited(fn, args, {**kwargs, "progress": progress} if with_progress else kwargs, memory))
    finally:
        sender.close()


def _run_limited(fn, args, kwargs, memory: int | None) -> tuple[str, Any]:
    """fn(*args, **kwargs) within `memory` bytes of address space: ("ok", result), ("error", exc) or
    ("memory", None)."""
    hard = None
    if memory is not None and resource is not None:
        # Only the soft limit is lowered, so it can be lifted again to send the answer once fn has let go.
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory if hard == resource.RLIM_INFINITY else min(memory, hard), hard))
    try:
        if memory is not None and _address_space("VmSize") >= memory:
            raise MemoryError("the limit is below what the worker itself takes")
        return ("ok", fn(*args, **kwargs))
    except MemoryError:
        return ("memory", None)
    except Exception as exc:  # sent back and raised in the server, as if the call had been made there
        # C libraries out of memory say so in their own words (FreeType: "unknown file format"): an error raised
        # by a child that came within 32 MB of its limit is the limit's.
        reached = memory is not None and _address_space("VmPeak") >= memory - 32 * 2**20
        return ("memory", None) if reached else ("error", exc)
    finally:
        if hard is not None:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _send(connection, answer: tuple[str, Any]) -> None:
    try:
        connection.send(answer)
    except Exception as exc:  # the exception (or result) would not pickle: say what happened instead
        connection.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")))


def _address_space(field: str) -> int:
    """VmSize (now) or VmPeak (the most so far) of this process in bytes, from Linux's /proc; 0 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next((int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":")), 0)
    except (OSError, ValueError):
        return 0


def _wait(receiver, process, counter, progress, deadline: float | None) -> tuple[str, Any]:
    while not receiver.poll(_POLL_SECONDS):
        if progress is not None:
            progress(counter.value)
        if deadline is not None and time.monotonic() > deadline:
            process.kill()
            raise worker_timeout()
        if not process.is_alive() and not receiver.poll(0):
            raise WorkerStopped(f"The document worker stopped without an answer (exit code {process.exitcode}).")
    if progress is not None:
        progress(counter.value)
    try:
        return receiver.recv()
    except EOFError:
        raise WorkerStopped(f"The document worker stopped without an answer (exit code {process.exitcode}).") from None
    except Exception as exc:  # an answer that pickled in the child but cannot be rebuilt here
        raise WorkerStopped(f"The document worker's answer could not be read ({type(exc).__name__}: {exc}).") from exc


def _reap(process) -> None:
    process.join(5)
    if process.is_alive():
        process.kill()
        process.join(5)
