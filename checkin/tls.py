"""TLS for `checkin serve --https`: the operator's certificate and key."""

from __future__ import annotations

from pathlib import Path

from .settings import Settings, SettingsError


def ensure_certificate(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key to serve with."""
    if settings.tls_cert and settings.tls_key:
        for path in (settings.tls_cert, settings.tls_key):
            if not path.is_file():
                raise SettingsError(f"TLS file not found: {path}")
        return settings.tls_cert, settings.tls_key
    raise SettingsError("--https needs --cert and --key (CHECKIN_TLS_CERT, CHECKIN_TLS_KEY); see deploy/README.md for Caddy")
