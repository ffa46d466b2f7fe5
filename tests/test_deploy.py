"""What deploy/ ships is valid for the programs that read it: Caddy, nginx, systemd.

Caddy and nginx come from Debian's packages (`make test` installs them when root, as it does Chromium and
PostgreSQL); the kill test runs the cluster Caddyfile itself (tests/test_cluster_failures.py). Each program
reads a copy in a temporary folder, so nothing of the machine's own configuration is read or changed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .cluster import free_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    assert found, f"{name} is missing: `make test` installs it as root (apt-get install {name})"
    return found


def caddy(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), **env}
    return subprocess.run([program("caddy"), *args], env=environ, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["Caddyfile.cluster", "Caddyfile"])
def test_shipped_caddyfile_is_valid(name, tmp_path):
    done = caddy("validate", "--adapter", "caddyfile", "--config", str(DEPLOY / name), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout


def test_domain_caddyfile_is_valid_but_for_its_dns_plugin(tmp_path):
    # deploy/Caddyfile.domain needs a Caddy built with a DNS provider's plugin (the venue cannot be reached for an
    # HTTP challenge), which the system's Caddy lacks. Everything else in it is checked: with the plugin's line as
    # the stock ACME issuer, it is valid, serves the domain over HTTPS and proxies to checkin with events unbuffered.
    import json

    text = (DEPLOY / "Caddyfile.domain").read_text(encoding="utf-8")
    plugin = "\t\tdns cloudflare {env.CF_API_TOKEN}\n"
    assert plugin in text
    stock = tmp_path / "Caddyfile.domain"
    stock.write_text(text.replace(plugin, "\t\tissuer acme\n"), encoding="utf-8")
    done = caddy("validate", "--adapter", "caddyfile", "--config", str(stock), home=tmp_path)
    assert done.returncode == 0, done.stderr
    done = caddy("adapt", "--adapter", "caddyfile", "--config", str(stock), home=tmp_path)
    assert done.returncode == 0, done.stderr
    adapted = json.loads(done.stdout)
    server = next(iter(adapted["apps"]["http"]["servers"].values()))
    assert server["listen"] == [":443"]
    assert server["routes"][0]["match"] == [{"host": ["checkin.example.org"]}]
    proxy = find_handler(adapted, "reverse_proxy")
    assert [u["dial"] for u in proxy["upstreams"]] == ["127.0.0.1:8000"]
    assert proxy["flush_interval"] == -1


def test_cluster_caddyfile_balances_checks_health_and_streams_events_unbuffered(tmp_path):
    import json

    done = caddy("adapt", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile.cluster"), home=tmp_path)
    assert done.returncode == 0, done.stderr
    proxy = find_handler(json.loads(done.stdout), "reverse_proxy")
    assert [u["dial"] for u in proxy["upstreams"]] == ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]
    assert proxy["flush_interval"] == -1
    assert proxy["health_checks"]["active"]["uri"] == "/readyz"
    assert proxy["health_checks"]["passive"]["max_fails"] == 1
    # The environment sets what `make cluster` and the tests change: the site and the instances.
    done = caddy("adapt", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile.cluster"), home=tmp_path,
                 CHECKIN_SITE="http://127.0.0.1:18080", CHECKIN_UPSTREAMS="127.0.0.1:9001 127.0.0.1:9002",
                 CHECKIN_CADDY_ADMIN="off")
    assert done.returncode == 0, done.stderr
    adapted = json.loads(done.stdout)
    assert adapted["admin"]["disabled"] is True
    proxy = find_handler(adapted, "reverse_proxy")
    assert [u["dial"] for u in proxy["upstreams"]] == ["127.0.0.1:9001", "127.0.0.1:9002"]


def find_handler(node, name: str) -> dict:
    """The first handler of that name anywhere in Caddy's JSON configuration."""
    if isinstance(node, dict):
        if node.get("handler") == name:
            return node
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        children = []
    for child in children:
        found = find_handler(child, name)
        if found:
            return found
    return {}


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "checkin.example.org")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "fullchain.pem", folder / "privkey.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_shipped_nginx_config_is_valid(tmp_path):
    """nginx -t on the shipped file inside a minimal nginx.conf of a temporary prefix, with a throwaway
    certificate where the file names certbot's, and free ports of 127.0.0.1 for 80 and 443 (nginx -t binds
    them: as root they may be taken, and anyone else may not bind them)."""
    cert, key = self_signed(tmp_path)
    text = (DEPLOY / "nginx-checkin.conf").read_text()
    live = "/etc/letsencrypt/live/checkin.example.org/"
    assert f"{live}fullchain.pem" in text and f"{live}privkey.pem" in text
    text = text.replace(f"{live}fullchain.pem", str(cert)).replace(f"{live}privkey.pem", str(key))
    listens = {"listen 80;": f"listen 127.0.0.1:{free_port()};", "listen [::]:80;": "",
               "listen 443 ssl http2;": f"listen 127.0.0.1:{free_port()} ssl http2;", "listen [::]:443 ssl http2;": ""}
    for shipped, local in listens.items():
        assert shipped in text
        text = text.replace(shipped, local)
    site = tmp_path / "checkin.conf"
    site.write_text(text)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {tmp_path / kind};" for kind in kinds)
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {site};\n}}\n")
    command = [program("nginx"), "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    assert "[warn]" not in done.stderr.replace('the "user" directive makes sense only', ""), done.stderr


def test_shipped_systemd_template_unit_is_valid(tmp_path):
    """systemd-analyze verify on an instance of the template (its ExecStart pointed at a program that exists)."""
    text = (DEPLOY / "checkin@.service").read_text()
    assert "ExecStart=/opt/checkin/bin/checkin serve" in text
    for line in ("Environment=CHECKIN_INSTANCE_NAME=%i", "EnvironmentFile=/etc/checkin/env",
                 "EnvironmentFile=/etc/checkin/%i.env", "LimitNOFILE=65536"):
        assert line in text.splitlines()
    (tmp_path / "checkin@.service").write_text(text.replace("/opt/checkin/bin/checkin", "/bin/true"))
    done = subprocess.run([program("systemd-analyze"), "verify", "checkin@a.service"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_make_cluster_serves_the_demo_behind_caddy_and_ctrl_c_stops_everything():
    """scripts/cluster.py (`make cluster`): PostgreSQL, two instances and Caddy, the demo's links on Caddy's
    address; SIGINT (Ctrl+C) stops Caddy, the instances and the database server."""
    import os
    import re
    import signal
    import sys
    import threading

    import httpx2 as httpx

    from .cluster import wait_until
    from .conftest import pgcluster

    # Not under tmp_path: run as root, the database server runs as `postgres`, which must reach its folder.
    folder, port = Path(tempfile.mkdtemp(prefix="checkin-make-cluster-")), free_port()
    script = Path(__file__).resolve().parent.parent / "scripts" / "cluster.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKIN_")}
    process = subprocess.Popen([sys.executable, str(script), "--folder", str(folder), "--port", str(port)],
                               stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("Ctrl+C stops everything" in line for line in lines) or process.poll() is not None,
                   120, "make cluster did not come up")
        said = "".join(lines)
        assert process.poll() is None, said
        password = re.search(rf"http://127\.0\.0\.1:{port}/login\s+\(user: demo\s+password: (\S+)\)", said).group(1)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ready"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
            signed_in = client.post("/login", data={"username": "demo", "password": password, "csrf": csrf})
            assert signed_in.status_code == 303, said
        children = [int(pid) for pid in (folder / "children.pid").read_text().split()]
        assert len(children) == 3  # two instances and Caddy
    finally:
        process.send_signal(signal.SIGINT)
        stopped = process.wait(60)
        reader.join(5)
        process.stderr.close()
        postmaster = (folder / "pg" / "data" / "postmaster.pid").exists()
        if postmaster:  # the script failed to stop it: do not leave a server behind
            pgcluster.stop(folder / "pg")
        shutil.rmtree(folder, ignore_errors=True)
    assert stopped == 0 and "Stopped." in "".join(lines)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert not postmaster, "the database server was stopped"
