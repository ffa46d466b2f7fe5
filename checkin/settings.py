"""Settings: one frozen object, read from the environment (CHECKIN_ prefix) or given directly by tests."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("vi", "en")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting is documented in README.md (a test keeps the two in step)."""

    data_dir: Path = Path("data")
    db: Path | None = None  # default: data_dir / "checkin.sqlite3"
    database_url: str = field(default="", repr=False)  # postgresql://...: several instances on one PostgreSQL
    database_pool_size: int = 10  # PostgreSQL connections per instance
    # SQLite: full (every acknowledged scan is on the disk, survives a power cut) or normal (survives a crash of
    # checkin, not a power cut; the commits are not synced: bench/scan_load.py --sqlite-sync normal measures it).
    sqlite_sync: str = "full"
    instance_name: str = ""  # in log lines and /metrics; default host:port
    drain_seconds: int = 5  # on SIGTERM: not ready this long before leaving (the load balancer moves away)
    metrics_token: str = field(default="", repr=False)  # bearer token for /metrics
    metrics_allow: str = "127.0.0.1,::1"  # addresses (or networks) that may read /metrics without the token
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""  # public URL used in printed links; default http://host:port
    secret_key: str = ""  # default: generated once and kept in data_dir/secret_key
    time_zone: str = "Asia/Ho_Chi_Minh"
    language: str = "vi"
    access_log: bool = False
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips): comma-separated
    # addresses or networks, or "*". The sign-in limits count the real client's address only behind these.
    forwarded_allow_ips: str = "127.0.0.1"
    https: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    templates_dir: Path = ROOT / "templates"
    static_dir: Path = ROOT / "static"
    device_undo_seconds: int = 300
    device_sync_grace_minutes: int = 15  # see rules.device_refusal
    max_upload_bytes: int = 5_000_000
    worker_memory_mb: int = 1024  # address space of one document worker (badge sheets, rosters, workbooks)
    worker_seconds: int = 300  # a document worker still busy after this is stopped
    workers_at_once: int = 2  # document workers at a time; more requests wait, then get workers_busy
    worker_wait_seconds: int = 10  # how long a request waits for a free worker
    header_timeout_seconds: int = 10
    max_connections: int = 4000
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_tls: str = "starttls"  # starttls | tls | none
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_sender: str = ""

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.data_dir / "checkin.sqlite3"

    @property
    def database(self) -> Path | str:
        """Where the data lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def instance(self) -> str:
        if self.instance_name:
            return self.instance_name
        import socket

        return f"{socket.gethostname()}:{self.port}"

    @property
    def public_url(self) -> str:
        """Where others reach this server, for links in e-mails, exports, QR codes and pairing.

        CHECKIN_BASE_URL when given; otherwise the listening address, except that a wildcard
        (0.0.0.0, ::) is no address at all to a phone: then this machine's first LAN address."""
        if self.base_url:
            return self.base_url.rstrip("/")
        scheme = "https" if self.https else "http"
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            from .tls import phone_addresses  # local import: tls needs these settings itself

            found = phone_addresses()
            host = found[0] if found else "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return f"{scheme}://{shown}:{self.port}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Read CHECKIN_* variables; keyword overrides (from CLI flags) win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "CHECKIN_" + f.name.upper()
            if name in environ and environ[name] != "":
                values[f.name] = _convert(name, f.type, environ[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> "Settings":
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"CHECKIN_TIME_ZONE: unknown time zone {self.time_zone!r}") from exc
        if self.language not in LANGUAGES:
            raise SettingsError(f"CHECKIN_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        if not 0 < self.port < 65536:
            raise SettingsError(f"CHECKIN_PORT must be between 1 and 65535, not {self.port}")
        if self.header_timeout_seconds < 1:
            raise SettingsError(f"CHECKIN_HEADER_TIMEOUT_SECONDS must be at least 1, not {self.header_timeout_seconds}")
        if self.max_connections < 10:
            raise SettingsError(f"CHECKIN_MAX_CONNECTIONS must be at least 10, not {self.max_connections}")
        if self.smtp_tls not in ("starttls", "tls", "none"):
            raise SettingsError("CHECKIN_SMTP_TLS must be starttls, tls or none")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("CHECKIN_DATABASE_URL must start with postgresql:// (leave it empty for SQLite)")
        if self.sqlite_sync not in ("full", "normal"):
            raise SettingsError(f"CHECKIN_SQLITE_SYNC must be full or normal, not {self.sqlite_sync!r}")
        if not 1 <= self.database_pool_size <= 200:
            raise SettingsError("CHECKIN_DATABASE_POOL_SIZE must be between 1 and 200")
        for item in self.forwarded_allow_ips.split(","):
            try:
                if item.strip() != "*":
                    ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as exc:
                raise SettingsError(f"CHECKIN_FORWARDED_ALLOW_IPS: {item.strip()!r} is not an address, a network "
                                    "(10.0.0.0/8) or *") from exc
        for name in ("worker_memory_mb", "worker_seconds", "workers_at_once"):
            if getattr(self, name) < 1:
                raise SettingsError(f"CHECKIN_{name.upper()} must be at least 1, not {getattr(self, name)}")
        if self.worker_wait_seconds < 0:
            raise SettingsError(f"CHECKIN_WORKER_WAIT_SECONDS must be 0 or more, not {self.worker_wait_seconds}")
        if not 0 <= self.device_sync_grace_minutes <= 24 * 60:
            raise SettingsError("CHECKIN_DEVICE_SYNC_GRACE_MINUTES must be between 0 and 1440 (a day)")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("CHECKIN_TLS_CERT and CHECKIN_TLS_KEY go together: give both or neither")
        return self

    def with_secret(self) -> "Settings":
        """Return settings with a secret key: the given one, or the one kept in the data folder.

        On PostgreSQL it must be given: every instance signs and checks the same cookies and offline-copy
        salts, so a key made by one instance in its own data folder would sign everyone else out."""
        if self.secret_key:
            return self
        if self.uses_postgres:
            raise SettingsError(
                "CHECKIN_SECRET_KEY must be set when CHECKIN_DATABASE_URL is: the same long random value on every "
                "instance (for example from `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        path = self.data_dir / "secret_key"
        if path.exists():
            return replace(self, secret_key=path.read_text().strip())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Created with 0600 from the start so the key is never readable by others, even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return replace(self, secret_key=key)


def _convert(name: str, kind: object, raw: str) -> object:
    kind = str(kind)
    try:
        if "bool" in kind:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if "int" in kind:
            return int(raw)
        if "Path" in kind:
            return Path(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: cannot read {raw!r} as {kind.replace(' | None', '')}") from exc
    return raw
