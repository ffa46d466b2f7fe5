"""Documents made in a child process: the answer, the error, the progress and the language come back;
a child that dies says so instead of leaving the organiser waiting."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from checkin.i18n import reset_language, set_language
from checkin.documents.workers import WorkerStopped, run_in_process

from .worker_jobs import allocates, sleeps


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
    from checkin.documents import workers

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


# ---------------------------------------------------------------- limits

def test_a_document_over_the_memory_limit_is_document_too_large_and_the_next_one_works():
    from checkin.errors import Problem
    from checkin.documents.workers import WorkerLimits

    limits = WorkerLimits(memory_mb=256)
    with pytest.raises(Problem) as caught:
        asyncio.run(run_in_process(allocates, 512, limits=limits))
    assert (caught.value.status, caught.value.code) == (413, "document_too_large")
    assert "CHECKIN_WORKER_MEMORY_MB" in caught.value.message
    assert asyncio.run(run_in_process(allocates, 16, limits=limits)) == 16 * 2**20


def test_a_document_over_the_time_limit_is_stopped_and_said_so(tmp_path):
    from checkin.errors import Problem
    from checkin.documents.workers import WorkerLimits

    pid_file = tmp_path / "pid"
    with pytest.raises(Problem) as caught:
        asyncio.run(run_in_process(sleeps, 60, str(pid_file), limits=WorkerLimits(seconds=3)))
    assert (caught.value.status, caught.value.code) == (422, "worker_timeout")
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left running
        os.kill(int(pid_file.read_text()), 0)


def test_beyond_the_workers_at_once_a_request_waits_then_is_told_the_server_is_busy():
    from checkin.errors import Problem
    from checkin.documents.workers import WorkerLimits, Workers

    async def scenario():
        workers = Workers(WorkerLimits(at_once=1, wait_seconds=0.5))
        first = asyncio.create_task(workers.run(sleeps, 3))
        while workers.running == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(Problem) as busy:
            await workers.run(_double, 1)
        assert await first == 3 and workers.running == 0
        return busy.value, await workers.run(_double, 2)

    busy, (value, _pid) = asyncio.run(scenario())
    assert (busy.status, busy.code, busy.retry_after) == (503, "workers_busy", 60) and value == 4


def test_a_request_that_finds_the_workers_busy_waits_for_a_free_one():
    from checkin.documents.workers import WorkerLimits, Workers

    async def scenario():
        workers = Workers(WorkerLimits(at_once=1, wait_seconds=60))
        first = asyncio.create_task(workers.run(sleeps, 0.5))
        while workers.running == 0:
            await asyncio.sleep(0.01)
        second = await workers.run(_double, 5)
        return await first, second[0]

    assert asyncio.run(scenario()) == (0.5, 10)


# ---------------------------------------------------------------- the limits over HTTP

def _server(world, **limits):
    from starlette.testclient import TestClient

    from dataclasses import replace

    from checkin.app import create_app

    from .conftest import sign_in

    client = TestClient(create_app(replace(world.settings, **limits), clock=world.clock))
    client.__enter__()
    client.cookies.set("lang", "en")
    sign_in(client)
    return client


def test_with_every_worker_busy_a_document_and_a_roster_get_a_503_to_retry_in_a_minute(world):
    from .conftest import rows
    from .test_import_preview import MESSY, upload, xlsx

    client = _server(world, workers_at_once=1, worker_wait_seconds=0)
    try:
        workers = client.app.state.services.workers
        held = client.portal.start_task_soon(workers.run, sleeps, 3)  # a long document someone else is making
        while workers.running == 0:
            pass
        pdf = client.get(f"/courses/{world.course.id}/badges.pdf")
        assert pdf.status_code == 503 and pdf.headers["retry-after"] == "60" and "workers_busy" in pdf.text
        roster = upload(client, world, xlsx(MESSY))
        assert roster.status_code == 503 and roster.headers["retry-after"] == "60"
        assert "The server is busy reading other files. Try again in a minute." in roster.text
        assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]
        assert held.result(timeout=30) == 3
        assert client.get(f"/courses/{world.course.id}/badges.pdf").status_code == 200
    finally:
        client.__exit__(None, None, None)


def test_a_memory_limit_below_what_any_document_needs_is_said_plainly_not_a_500(world):
    from .conftest import rows
    from .test_import_preview import upload, xlsx

    client = _server(world, worker_memory_mb=1)
    people = [[f"Người {i}", f"Đơn vị {i % 40}", "Bí thư", f"09{i:08d}"] for i in range(3000)]
    try:
        pdf = client.get(f"/courses/{world.course.id}/badges.pdf")
        assert pdf.status_code == 413 and "document_too_large" in pdf.text and "CHECKIN_WORKER_MEMORY_MB" in pdf.text
        roster = upload(client, world, xlsx([["Họ và tên", "Đơn vị", "Chức vụ", "Số điện thoại"], *people]))
        assert roster.status_code == 413 and "Reading this file needs more memory than the server allows" in roster.text
        assert rows(world, "SELECT COUNT(*) FROM pending_imports") == [(0,)]
    finally:
        client.__exit__(None, None, None)


def test_a_pool_process_over_a_limit_is_replaced_and_the_pool_keeps_working():
    from checkin.errors import Problem
    from checkin.documents.workers import ProcessPool, WorkerLimits, workers_busy

    async def scenario():
        pool = ProcessPool(WorkerLimits(memory_mb=256, seconds=3, at_once=1, wait_seconds=5), workers_busy)
        try:
            first, _ = await pool.run(_double, 1)
            with pytest.raises(Problem) as memory:
                await pool.run(allocates, 512)
            with pytest.raises(Problem) as slow:
                await pool.run(sleeps, 60)
            (again, pid), (once_more, same_pid) = await pool.run(_double, 2), await pool.run(_double, 3)
            return first, memory.value.code, slow.value.code, again, once_more, pid == same_pid != os.getpid()
        finally:
            pool.close()

    assert asyncio.run(scenario()) == (2, "document_too_large", "worker_timeout", 4, 6, True)
