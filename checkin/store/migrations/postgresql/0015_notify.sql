-- Wake the other instances (checkin/relay.py listens): a course's new event number; a device changed (revoked:
-- every instance drops it from its cache at once); a sign-in session ended (its event streams stop on every
-- instance at once). Delivered when the writing transaction commits, in commit order. PostgreSQL only: with SQLite there is one process. (tests/test_schema_parity.py knows these triggers.)
CREATE FUNCTION notify_course_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('checkin_events', NEW.id::text || ':' || NEW.event_seq::text);
    RETURN NULL;
END $$;
CREATE TRIGGER courses_event_notify AFTER UPDATE OF event_seq ON courses
    FOR EACH ROW WHEN (NEW.event_seq IS DISTINCT FROM OLD.event_seq) EXECUTE FUNCTION notify_course_event();

CREATE FUNCTION notify_device_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('checkin_devices', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER devices_change_notify AFTER UPDATE OF revoked_at, expires_at ON devices
    FOR EACH ROW EXECUTE FUNCTION notify_device_change();

CREATE FUNCTION notify_session_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('checkin_sessions', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER sign_in_sessions_end_notify AFTER UPDATE OF ended_at ON sign_in_sessions
    FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL AND OLD.ended_at IS NULL) EXECUTE FUNCTION notify_session_end();
