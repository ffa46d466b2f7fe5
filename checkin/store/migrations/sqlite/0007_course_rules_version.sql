-- A course's rules (its sessions, windows, grace and after-end policy) are read on every scan. The
-- scan path keeps them per connection and re-reads them only when this value changes. Triggers change
-- it on every edit, whoever makes it (the server, or the command line in another process); a random
-- value rather than a counter, so that an edit rolled back and another one made later never look alike.
-- (A PostgreSQL store sets it with the same triggers in its own syntax.)
ALTER TABLE courses ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER sessions_rules_insert AFTER INSERT ON sessions
BEGIN
    UPDATE courses SET rules_version = random() WHERE id = NEW.course_id;
END;

CREATE TRIGGER sessions_rules_update AFTER UPDATE ON sessions
BEGIN
    UPDATE courses SET rules_version = random() WHERE id IN (OLD.course_id, NEW.course_id);
END;

CREATE TRIGGER sessions_rules_delete AFTER DELETE ON sessions
BEGIN
    UPDATE courses SET rules_version = random() WHERE id = OLD.course_id;
END;

CREATE TRIGGER courses_rules_update AFTER UPDATE OF open_before_min, late_after_min, after_end, time_zone, course_date
ON courses
BEGIN
    UPDATE courses SET rules_version = random() WHERE id = NEW.id;
END;
