"""An instance leaving on SIGTERM: not ready first (the load balancer moves away), still answering meanwhile, then
its event streams end with a hint to come back soon, and it exits. Log lines carry the instance's name."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx2 as httpx

from .cluster import free_port, wait_until


def test_sigterm_drains_then_leaves(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    env.update(CHECKIN_DATA_DIR=str(tmp_path), CHECKIN_DB=str(tmp_path / "d.sqlite3"), CHECKIN_DRAIN_SECONDS="2",
               CHECKIN_INSTANCE_NAME="door-7")
    demo = subprocess.run([sys.executable, "-m", "checkin", "demo", "--participants", "30", "--password",
                           "drain-demo-password"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    course_id = int(demo.stdout.split()[-1])
    token = re.search(r"API device token:\s+(\S+)", demo.stderr).group(1)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "checkin", "serve", "--port", str(port)], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url), 30, "the server did not start")
        client = httpx.Client(base_url=url, timeout=10)
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"username": "demo", "password": "drain-demo-password", "csrf": csrf})
        lines: list[str] = []
        opened = threading.Event()

        def follow():
            with client.stream("GET", f"/courses/{course_id}/events") as response:
                opened.set()
                lines.extend(response.iter_lines())  # until the server ends the stream

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        assert opened.wait(10)
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 503, 1.5, "still ready after SIGTERM")
        assert httpx.get(url + "/healthz").status_code == 200
        # Still answering the door while the load balancer moves away.
        scan = httpx.post(url + "/api/v1/scans", json={"code": "no-such-badge-code"},
                          headers={"Authorization": f"Bearer {token}"})
        assert scan.status_code == 200 and scan.json()["reason"] == "unknown_code"
        reader.join(15)
        assert not reader.is_alive(), "the event stream did not end"
        assert "retry: 250" in lines, lines[-5:]
        assert server.wait(20) is not None
        client.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)
    text = log.read_text()
    assert "[door-7]" in text and "SIGTERM" in text


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
