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
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from .errors import Problem
from .i18n import current_language, set_language

try:
    import resource
except ImportError:  # Windows: no address-space limit there; the time and at-once limits still hold
    resource = None  # type: ignore[assignment]

_PRELOAD = ["checkin.badges", "checkin.certificates", "checkin.signin_sheets", "checkin.exports_xlsx", "checkin.roster"]
_POLL_SECONDS = 0.1
_context = None
log = logging.getLogger("checkin.workers")


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

    One per server process (on app.state's services). A request that finds every slot taken waits up to
    `limits.wait_seconds` for one, then gets `workers_busy`: a queue of documents that nobody waits for any more
    would only make the next ones later."""

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self._slots = anyio.Semaphore(limits.at_once)

    @property
    def running(self) -> int:
        return self.limits.at_once - self._slots.value

    async def run(self, fn: Callable[..., Any], *args: Any, progress: Callable[[int], None] | None = None,
                  language: str | None = None, **kwargs: Any) -> Any:
        """run_in_process(fn, *args, ...) within the limits; raises workers_busy when no slot frees in time."""
        if not await self._take_slot():
            raise workers_busy()
        try:
            return await run_in_process(fn, *args, progress=progress, language=language, limits=self.limits, **kwargs)
        finally:
            self._slots.release()

    async def _take_slot(self) -> bool:
        try:
            self._slots.acquire_nowait()
            return True
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self.limits.wait_seconds):
            await self._slots.acquire()
            return True
        return False


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

    def progress(done: int, total: int | None = None) -> None:
        counter.value = done

    hard = None
    if memory is not None and resource is not None:
        # Only the soft limit is lowered, so it can be lifted again to send the answer once fn has let go.
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory if hard == resource.RLIM_INFINITY else min(memory, hard), hard))
    try:
        result = fn(*args, progress=progress, **kwargs) if with_progress else fn(*args, **kwargs)
        answer = ("ok", result)
    except MemoryError:
        answer = ("memory", None)
    except Exception as exc:  # sent back and raised in the server, as if the call had been made there
        # C libraries out of memory say so in their own words (FreeType: "unknown file format"): an error raised
        # by a child that reached its limit is the limit's.
        answer = ("memory", None) if memory is not None and _reached(memory) else ("error", exc)
    if hard is not None:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        sender.send(answer)
    except Exception as exc:  # the exception (or result) would not pickle: say what happened instead
        sender.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")))
    finally:
        sender.close()


def _reached(memory: int) -> bool:
    """Whether this process's address space has come within 32 MB of `memory` (its peak, from Linux's /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            peak = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmPeak:")), 0)
    except (OSError, ValueError):
        return False
    return peak >= memory - 32 * 2**20


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
