"""The two stores' schemas agree: the same tables, columns, keys, indexes and checks, after every migration.

Each dialect has its own migration files (store/migrations/sqlite and /postgresql); this test is what keeps
them from drifting apart. Types are compared by family (an INTEGER here is a BIGINT there)."""

from __future__ import annotations

import re

import pytest

from checkin.store.db import connect, migration_files, open_sync

FAMILY = {"integer": "int", "bigint": "int", "text": "text", "blob": "bytes", "bytea": "bytes"}


def sqlite_schema(conn) -> dict:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    schema = {}
    for table in tables:
        columns = {r[1]: (FAMILY[r[2].lower()], bool(r[3]) or bool(r[5])) for r in conn.execute(f"PRAGMA table_info({table})")}
        primary = tuple(r[1] for r in sorted(conn.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5])
        foreign = {(r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA foreign_key_list({table})")}
        unique, indexes = set(), set()
        for _, name, is_unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            if origin == "pk":
                continue
            if origin == "u":  # a UNIQUE in the table's definition
                unique.add(cols)
            else:
                indexes.add((name, cols, bool(is_unique), bool(partial)))
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        checks = len(re.findall(r"\bCHECK\s*\(", sql, re.I))
        schema[table] = {"columns": columns, "primary": primary, "foreign": foreign, "unique": unique,
                         "indexes": indexes, "checks": checks}
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return {"tables": schema, "triggers": triggers}


def postgres_schema(conn) -> dict:
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
    schema = {}
    for table in tables:
        columns = {
            r[0]: (FAMILY[r[1]], r[2] == "NO")
            for r in conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?", (table,))
        }
        constraint_rows = list(conn.execute(
            "SELECT c.contype, c.conname, ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),"
            " f.relname, ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)"
            " JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o)"
            " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class f ON f.oid = c.confrelid"
            " WHERE t.relname = ? AND t.relnamespace = current_schema()::regnamespace", (table,)))
        primary = next((tuple(r[2]) for r in constraint_rows if r[0] == "p"), ())
        foreign = {(r[2][0], r[3], r[4][0]) for r in constraint_rows if r[0] == "f"}
        unique = {tuple(r[2]) for r in constraint_rows if r[0] == "u"}
        checks = sum(1 for r in constraint_rows if r[0] == "c")
        owned = {r[1] for r in constraint_rows if r[0] in ("p", "u")}
        indexes = set()
        for name, unique_flag, partial, cols in conn.execute(
            "SELECT i.relname, x.indisunique, x.indpred IS NOT NULL, ARRAY(SELECT a.attname FROM unnest(x.indkey)"
            " WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o)"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relname = ? AND t.relnamespace = current_schema()::regnamespace", (table,)
        ):
            if name not in owned:
                indexes.add((name, tuple(cols), bool(unique_flag), bool(partial)))
        schema[table] = {"columns": columns, "primary": primary, "foreign": foreign, "unique": unique,
                         "indexes": indexes, "checks": checks}
    triggers = {r[0] for r in conn.execute(
        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace")}
    return {"tables": schema, "triggers": triggers}


@pytest.fixture
def both(tmp_path, postgres_url):
    lite = open_sync(tmp_path / "parity.sqlite3")
    pg = connect(postgres_url)
    try:
        yield sqlite_schema(lite), postgres_schema(pg)
    finally:
        lite.close()
        pg.close()


def test_both_stores_have_the_same_migrations():
    assert [name for name, _ in migration_files("sqlite")] == [name for name, _ in migration_files("postgresql")]


def test_both_stores_have_the_same_tables_columns_keys_indexes_and_checks(both):
    lite, pg = both
    assert sorted(lite["tables"]) == sorted(pg["tables"])
    for table in lite["tables"]:
        for part in ("columns", "primary", "foreign", "unique", "indexes", "checks"):
            assert lite["tables"][table][part] == pg["tables"][table][part], f"{table}: {part} differ"


# PostgreSQL alone: they wake the other server instances (LISTEN/NOTIFY); SQLite has one process.
NOTIFY_TRIGGERS = {"courses_event_notify", "devices_change_notify", "sign_in_sessions_end_notify"}


def test_both_stores_have_the_same_triggers_but_the_notifications(both):
    lite, pg = both
    assert lite["triggers"] == pg["triggers"] - NOTIFY_TRIGGERS
    assert NOTIFY_TRIGGERS <= pg["triggers"]
