"""Scan nonces as the scanner makes them (static/js/scanner.js), for the benchmarks that send scans."""

from __future__ import annotations

import secrets
import time


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): the time in milliseconds first, then the version, the variant and 74 random bits."""
    value = ((time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | secrets.randbits(12) << 64
             | 0b10 << 62 | secrets.randbits(62))
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
