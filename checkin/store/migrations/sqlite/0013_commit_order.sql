-- Change cursors that follow commit order on both stores, and one row fewer per check-in.
--
-- Live events are numbered per course (courses.event_seq, taken inside the writing transaction), so that a
-- live view or an offline copy that has seen event N of a course has seen every event before it: on
-- PostgreSQL, where several server processes write at once, sequence ids do not follow commit order, and a
-- reader could see id 12 committed before id 11 and skip 11 for ever. Taking the course's number locks its
-- row until the commit, so numbers are handed out in commit order. SQLite has one writer at a time anyway;
-- the same numbering keeps the two stores alike.
--
-- A check-in's live event is its scan row (scans.event_seq): the scan already holds who, when, which
-- session and how; the events table keeps what is not a scan (undos, corrections, excuses). Event numbers
-- given so far are kept: seq = id, so a live view reconnecting across the upgrade resumes where it was.
ALTER TABLE courses ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE events SET seq = id;
UPDATE courses SET event_seq = COALESCE((SELECT MAX(id) FROM events WHERE events.course_id = courses.id), 0);
CREATE UNIQUE INDEX events_course_seq ON events (course_id, seq);
DROP INDEX events_course;
ALTER TABLE scans ADD COLUMN event_seq INTEGER;
CREATE UNIQUE INDEX scans_course_event ON scans (course_id, event_seq) WHERE event_seq IS NOT NULL;

-- The offline copy's roster cursor: roster_changes.seq, from a counter taken in the writing transaction
-- (see the PostgreSQL migration for why; here the one writer makes it simply the next number).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('roster_changes', (SELECT COALESCE(MAX(id), 0) FROM roster_changes));
ALTER TABLE roster_changes ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE roster_changes SET seq = id;
CREATE INDEX roster_changes_seq ON roster_changes (seq);

DROP TRIGGER roster_changes_enrolment;
DROP TRIGGER roster_changes_participant;
DROP TRIGGER roster_changes_unit;
DROP TRIGGER roster_changes_badge_issued;
DROP TRIGGER roster_changes_badge_changed;

CREATE TRIGGER roster_changes_enrolment AFTER INSERT ON enrolments
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes';
    INSERT INTO roster_changes (enrolment_id, seq) SELECT NEW.id, value FROM counters WHERE name = 'roster_changes';
END;

CREATE TRIGGER roster_changes_participant AFTER UPDATE ON participants
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes';
    INSERT INTO roster_changes (enrolment_id, seq)
    SELECT e.id, c.value FROM enrolments e, counters c WHERE e.participant_id = NEW.id AND c.name = 'roster_changes';
END;

CREATE TRIGGER roster_changes_unit AFTER UPDATE OF name ON units
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes';
    INSERT INTO roster_changes (enrolment_id, seq)
    SELECT e.id, c.value FROM enrolments e JOIN participants p ON p.id = e.participant_id, counters c
    WHERE p.unit_id = NEW.id AND c.name = 'roster_changes';
END;

CREATE TRIGGER roster_changes_badge_issued AFTER INSERT ON badges
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes';
    INSERT INTO roster_changes (enrolment_id, seq) SELECT NEW.enrolment_id, value FROM counters WHERE name = 'roster_changes';
END;

CREATE TRIGGER roster_changes_badge_changed AFTER UPDATE ON badges
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'roster_changes';
    INSERT INTO roster_changes (enrolment_id, seq) SELECT NEW.enrolment_id, value FROM counters WHERE name = 'roster_changes';
END;

-- A course's rules_version becomes a counter (it was random(): on PostgreSQL random() is a float that an
-- INTEGER column rounds to 0 or 1). A cached copy is dropped whenever a write is rolled back, so a number
-- reused after a rollback cannot fool it.
DROP TRIGGER sessions_rules_insert;
DROP TRIGGER sessions_rules_update;
DROP TRIGGER sessions_rules_delete;
DROP TRIGGER courses_rules_update;

CREATE TRIGGER sessions_rules_insert AFTER INSERT ON sessions
BEGIN
    UPDATE courses SET rules_version = rules_version + 1 WHERE id = NEW.course_id;
END;

CREATE TRIGGER sessions_rules_update AFTER UPDATE ON sessions
BEGIN
    UPDATE courses SET rules_version = rules_version + 1 WHERE id IN (OLD.course_id, NEW.course_id);
END;

CREATE TRIGGER sessions_rules_delete AFTER DELETE ON sessions
BEGIN
    UPDATE courses SET rules_version = rules_version + 1 WHERE id = OLD.course_id;
END;

CREATE TRIGGER courses_rules_update AFTER UPDATE OF open_before_min, late_after_min, after_end, time_zone, course_date
ON courses
BEGIN
    UPDATE courses SET rules_version = rules_version + 1 WHERE id = NEW.id;
END;
