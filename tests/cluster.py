"""Several `checkin serve` processes on one PostgreSQL database, as an operator runs them: for the tests that
hold the single-process guarantees across instances (tests/test_cluster.py, tests/test_cluster_failures.py)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import caddyproxy  # noqa: E402

SECRET = "cluster-test-secret-key-shared-by-every-instance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Proxy:
    """Caddy with the shipped deploy/Caddyfile.cluster in front of some instances."""

    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    database_url: str
    folder: Path
    instances: list[Instance] = field(default_factory=list)
    clients: list = field(default_factory=list)  # HTTP clients the test opened, closed with the cluster
    proxies: list[Proxy] = field(default_factory=list)

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
        env.update(CHECKIN_DATABASE_URL=self.database_url, CHECKIN_SECRET_KEY=SECRET,
                   CHECKIN_DATA_DIR=str(self.folder), **extra)
        return env

    def checkin(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "checkin", *args], env=self.env(), capture_output=True,
                              text=True, timeout=180, input=stdin)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def start(self, name: str, port: int | None = None, **extra: str) -> Instance:
        port = port or free_port()
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                [sys.executable, "-m", "checkin", "serve", "--port", str(port)],
                env=self.env(CHECKIN_INSTANCE_NAME=name, **extra), stdout=out, stderr=subprocess.STDOUT,
            )
        instance = Instance(name, port, process, log)
        wait_until(lambda: _answers(instance), 30, f"instance {name} did not start: {log.read_text()[-2000:]}")
        self.instances.append(instance)
        return instance

    def proxy(self, instances: list[Instance]) -> Proxy:
        """Caddy in front of the instances, as deploy/Caddyfile.cluster ships, on a free port of 127.0.0.1."""
        port = free_port()
        upstreams = [f"127.0.0.1:{i.port}" for i in instances]
        process = caddyproxy.start(self.folder / f"caddy-{port}", port, upstreams)
        proxy = Proxy(port, process)
        self.proxies.append(proxy)
        return proxy

    def kill(self, instance: Instance) -> None:
        """SIGKILL: the instance dies at once, in the middle of whatever it was doing."""
        instance.process.send_signal(signal.SIGKILL)
        instance.process.wait(10)

    def restart(self, instance: Instance, **extra: str) -> Instance:
        """The same instance (name, port, log) started again after it died."""
        assert not instance.alive()
        self.instances.remove(instance)
        return self.start(instance.name, instance.port, **extra)

    def stop_all(self) -> None:
        for proxy in self.proxies:
            caddyproxy.stop(proxy.process)
        for client in self.clients:
            client.close()
        for instance in self.instances:
            if instance.alive():
                instance.process.terminate()
        for instance in self.instances:
            try:
                instance.process.wait(15)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait(5)


def _answers(instance: Instance) -> bool:
    if not instance.alive():
        raise AssertionError(f"instance {instance.name} exited: {instance.log.read_text()[-2000:]}")
    try:
        return httpx.get(instance.url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition, seconds: float, message: str = "condition not met") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(message)


@dataclass
class Demo:
    course_id: int
    token: str
    password: str


def seed_demo(cluster: Cluster, participants: int = 60) -> Demo:
    """`checkin demo` on the cluster's database: a course held today around now, its device token."""
    password = "cluster-demo-password"
    done = cluster.checkin("demo", "--participants", str(participants), "--password", password)
    token = re.search(r"API device token:\s+(\S+)", done.stderr).group(1)
    return Demo(int(done.stdout.strip().splitlines()[-1]), token, password)
