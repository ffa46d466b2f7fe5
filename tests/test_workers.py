"""Documents made in a child process: the answer, the error, the progress and the language come back;
a child that dies says so instead of leaving the organiser waiting."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from checkin.i18n import reset_language, set_language
from checkin.workers import WorkerStopped, run_in_process


def _double(n: int, *, plus: int = 0) -> tuple[int, int]:
    return n * 2 + plus, os.getpid()


def _counts(n: int, progress) -> int:
    for i in range(1, n + 1):
        progress(i, n)
    return n


def _refuses(reason: str) -> None:
    raise ValueError(reason)


def _dies() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _speaks() -> str:
    from checkin.i18n import gettext

    return gettext("Organiser accounts")


def test_the_result_comes_back_from_another_process():
    value, pid = asyncio.run(run_in_process(_double, 21, plus=1))
    assert value == 43 and pid != os.getpid()


def test_an_error_in_the_child_is_raised_here():
    with pytest.raises(ValueError, match="no badges to print"):
        asyncio.run(run_in_process(_refuses, "no badges to print"))


def test_progress_reaches_the_caller():
    seen: list[int] = []
    assert asyncio.run(run_in_process(_counts, 5, progress=seen.append)) == 5
    assert seen and seen[-1] == 5 and seen == sorted(seen)


def test_a_child_that_dies_is_reported_not_waited_for():
    with pytest.raises(WorkerStopped, match="stopped without an answer"):
        asyncio.run(run_in_process(_dies))


@pytest.mark.parametrize("language, expected", [("vi", "Tài khoản người tổ chức"), ("en", "Organiser accounts")])
def test_the_child_speaks_the_callers_language(language, expected):
    token = set_language(language)
    try:
        assert asyncio.run(run_in_process(_speaks)) == expected
    finally:
        reset_language(token)


def _problem() -> None:
    from checkin.errors import Problem

    raise Problem(422, "bad_language", "Choose Vietnamese (vi) or English (en) for the document.", field="lang")


def _roster_error() -> None:
    from checkin.roster import RosterError

    raise RosterError("empty", "The file is empty.")


def test_our_own_errors_arrive_whole():
    from checkin.errors import Problem
    from checkin.roster import RosterError

    with pytest.raises(Problem) as problem:
        asyncio.run(run_in_process(_problem))
    assert (problem.value.status, problem.value.code, problem.value.field) == (422, "bad_language", "lang")
    with pytest.raises(RosterError) as error:
        asyncio.run(run_in_process(_roster_error))
    assert (error.value.code, error.value.message) == ("empty", "The file is empty.")


def test_without_a_worker_process_the_document_is_made_in_a_thread(monkeypatch, caplog):
    from checkin import workers

    real = workers._get_context()

    class NoFork:
        """A host where starting a process fails (a sandbox without fork)."""

        Value, Pipe = real.Value, real.Pipe

        class Process:
            def __init__(self, **kwargs):
                pass

            def start(self):
                raise OSError("fork not permitted")

    monkeypatch.setattr(workers, "_get_context", lambda: NoFork)
    seen: list[int] = []
    value, pid = asyncio.run(run_in_process(_double, 4))
    assert value == 8 and pid == os.getpid()
    assert asyncio.run(run_in_process(_counts, 3, progress=seen.append)) == 3 and seen == [1, 2, 3]
    token = set_language("en")
    try:
        assert asyncio.run(run_in_process(_speaks, language="vi")) == "Tài khoản người tổ chức"
    finally:
        reset_language(token)
    assert "no worker process here (fork not permitted)" in caplog.text
