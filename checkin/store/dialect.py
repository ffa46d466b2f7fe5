"""What differs in the SQL itself between SQLite and PostgreSQL. Small on purpose: the queries are written once.

- Row locks: a decision that reads a row and writes on what it read (a first check-in reads the person's
  attendance, then writes it) must lock the row on PostgreSQL, where other processes write at the same
  time. SQLite needs nothing: one writer holds the whole database for the transaction (BEGIN IMMEDIATE).
- Placeholders (`?`), rows by name, `RETURNING`: handled by the connections (store/postgres.py).
- Schema: the migrations folder of each dialect (tests/test_schema_parity.py keeps them alike).
"""

from __future__ import annotations

from typing import Any


def is_postgres(conn: Any) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def for_update(conn: Any, *aliases: str) -> str:
    """A locking clause for a SELECT whose rows the transaction then writes on: rows of these table aliases
    stay locked until the commit (PostgreSQL); empty on SQLite."""
    if not is_postgres(conn):
        return ""
    return " FOR UPDATE OF " + ", ".join(aliases) if aliases else " FOR UPDATE"
