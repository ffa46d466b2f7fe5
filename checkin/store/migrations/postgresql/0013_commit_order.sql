-- Change cursors that follow commit order across server processes, and one row fewer per check-in.
-- (migrations/sqlite/0013 says the same in SQLite's syntax; read its comments first.)
--
-- Identity columns hand out numbers when a row is inserted, not when it commits: with two instances writing
-- at once, id 12 can be visible before id 11, and a reader that moved its cursor to 12 would skip 11 for ever.
-- So the numbers that cursors compare are taken from a counter row inside the writing transaction: the row
-- stays locked until the commit, so the next transaction gets the next number only after this one is visible.
ALTER TABLE courses ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE events SET seq = id;
UPDATE courses SET event_seq = COALESCE((SELECT MAX(id) FROM events WHERE events.course_id = courses.id), 0);
CREATE UNIQUE INDEX events_course_seq ON events (course_id, seq);
DROP INDEX events_course;
ALTER TABLE scans ADD COLUMN event_seq BIGINT;
CREATE UNIQUE INDEX scans_course_event ON scans (course_id, event_seq) WHERE event_seq IS NOT NULL;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('roster_changes', (SELECT COALESCE(MAX(id), 0) FROM roster_changes));
ALTER TABLE roster_changes ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE roster_changes SET seq = id;
CREATE INDEX roster_changes_seq ON roster_changes (seq);

-- One roster number per transaction (kept in a transaction-local setting), not one per row: an import of
-- thousands of people takes the counter's lock once, and its changes, visible together, share the number.
CREATE FUNCTION roster_change_seq() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    taken TEXT := current_setting('checkin.roster_seq', true);
    seq BIGINT;
BEGIN
    IF taken IS NOT NULL AND taken <> '' AND split_part(taken, ':', 1) = txid_current()::text THEN
        RETURN split_part(taken, ':', 2)::BIGINT;
    END IF;
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes' RETURNING value INTO seq;
    PERFORM set_config('checkin.roster_seq', txid_current()::text || ':' || seq::text, true);
    RETURN seq;
END $$;

CREATE OR REPLACE FUNCTION roster_changes_enrolment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (enrolment_id, seq) VALUES (NEW.id, roster_change_seq());
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_changes_participant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (enrolment_id, seq)
    SELECT id, roster_change_seq() FROM enrolments WHERE participant_id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_changes_unit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (enrolment_id, seq)
    SELECT e.id, roster_change_seq() FROM enrolments e JOIN participants p ON p.id = e.participant_id
    WHERE p.unit_id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_changes_badge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_changes (enrolment_id, seq) VALUES (NEW.enrolment_id, roster_change_seq());
    RETURN NULL;
END $$;
