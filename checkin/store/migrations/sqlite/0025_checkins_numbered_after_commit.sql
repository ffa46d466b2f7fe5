-- Issue 11 (PostgreSQL): a check-in may commit before it has its live event number, and get it in a later,
-- shared numbering transaction (migrations/postgresql/0025 says why). SQLite has one writer and numbers every
-- check-in in its own transaction as before: the column stays NULL and the index empty here; they exist so that
-- the two schemas agree (tests/test_schema_parity.py).
ALTER TABLE scans ADD COLUMN event_pending INTEGER;
CREATE INDEX scans_event_pending ON scans (course_id, id) WHERE event_pending = 1;
