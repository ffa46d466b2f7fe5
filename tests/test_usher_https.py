"""`checkin serve --https` as an operator runs it: one command gives a TLS server that phones can trust."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def https_server(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "checkin", "serve", "--https", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(tmp_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"checkin serve --https stopped: {process.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, tmp_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def test_serve_https_makes_a_local_ca_that_verifies_the_server(https_server):
    port, data = https_server
    ca = Path(data) / "tls" / "ca.crt"
    assert ca.is_file() and (Path(data) / "tls" / "server.key").is_file()
    trusting = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=trusting, timeout=10) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(f"https://localhost:{port}/ca", context=trusting, timeout=10) as answer:
        assert "SHA-256" in answer.read().decode("utf-8")
    with pytest.raises(urllib.error.URLError):  # a phone without the CA is warned, as it should be
        urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ssl.create_default_context(), timeout=10)
