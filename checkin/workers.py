"""Heavy documents (badge sheets, certificates, sign-in sheets, the attendance workbook) are made in a child
process.

Drawing a PDF or writing a workbook is pure Python: in a thread it would share the interpreter lock with the
door's scans and slow the slowest of them from a few milliseconds to a hundred. A child process uses the
machine's other core instead. Children come from a fork server that has already imported the drawing code, so a job
starts in milliseconds, not in the second a fresh interpreter would take; nothing of the server's state
(database connections, the event loop, its threads) is inherited.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from typing import Any

import anyio.to_thread

from .i18n import current_language, set_language

_PRELOAD = ["checkin.badges", "checkin.certificates", "checkin.signin_sheets", "checkin.exports_xlsx", "checkin.roster"]
_POLL_SECONDS = 0.1
CHILD_NICENESS = 10  # documents are drawn at a lower CPU priority than the server that answers the door
_context = None
log = logging.getLogger("checkin.workers")


class WorkerStopped(RuntimeError):
    """The child process ended without an answer (killed, or out of memory)."""


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
                         language: str | None = None, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) in a child process, its result or its exception here.

    With `progress`, fn is also given progress=callable(done, total), and `progress(done)` is called here as it
    moves. The child speaks `language` (by default the caller's). fn, its arguments and its result must pickle:
    a module-level function and plain data."""
    context = _get_context()
    counter = context.Value("q", 0, lock=False)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, daemon=True,
        args=(sender, counter, fn, args, kwargs, progress is not None, language or current_language()),
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
    try:
        kind, value = await anyio.to_thread.run_sync(_wait, receiver, process, counter, progress)
    finally:
        receiver.close()
        await anyio.to_thread.run_sync(_reap, process)
    if kind == "error":
        raise value
    return value


def _in_thread(fn, args, kwargs, progress, language: str) -> Any:
    set_language(language)  # this thread runs in a copy of the caller's context: the change stays here
    if progress is None:
        return fn(*args, **kwargs)
    return fn(*args, progress=lambda done, total=None: progress(done), **kwargs)


def _child(sender, counter, fn, args, kwargs, with_progress: bool, language: str) -> None:
    set_language(language)  # the words of the document in the language its caller chose
    if hasattr(os, "nice"):
        # A document can wait a moment; the door cannot. On a busy machine the server's scans go first.
        os.nice(CHILD_NICENESS)

    def progress(done: int, total: int | None = None) -> None:
        counter.value = done

    try:
        result = fn(*args, progress=progress, **kwargs) if with_progress else fn(*args, **kwargs)
        answer = ("ok", result)
    except Exception as exc:  # sent back and raised in the server, as if the call had been made there
        answer = ("error", exc)
    try:
        sender.send(answer)
    except Exception as exc:  # the exception (or result) would not pickle: say what happened instead
        sender.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")))
    finally:
        sender.close()


def _wait(receiver, process, counter, progress) -> tuple[str, Any]:
    while not receiver.poll(_POLL_SECONDS):
        if progress is not None:
            progress(counter.value)
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
