-- A course's rules (its sessions, windows, grace and after-end policy) are read on every scan. The
-- scan path keeps them per connection and re-reads them only when this counter changes. Triggers raise
-- it on every edit, whoever makes it (any server instance, or the command line).
-- (migrations/sqlite/0007 has the same triggers in SQLite's syntax.)
ALTER TABLE courses ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION sessions_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE courses SET rules_version = rules_version + 1 WHERE id = OLD.course_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.course_id <> OLD.course_id) THEN
        UPDATE courses SET rules_version = rules_version + 1 WHERE id = NEW.course_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_rules_insert AFTER INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_rules_changed();
CREATE TRIGGER sessions_rules_update AFTER UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_rules_changed();
CREATE TRIGGER sessions_rules_delete AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_rules_changed();

-- BEFORE UPDATE, on the row being written: no second UPDATE of the course (which would fire this again).
CREATE FUNCTION courses_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rules_version := OLD.rules_version + 1;
    RETURN NEW;
END $$;
CREATE TRIGGER courses_rules_update BEFORE UPDATE OF open_before_min, late_after_min, after_end, time_zone, course_date
ON courses FOR EACH ROW EXECUTE FUNCTION courses_rules_changed();
