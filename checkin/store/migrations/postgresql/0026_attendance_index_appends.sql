-- Issue 10: one index page fewer written per first check-in.
--
-- attendance_session_status (0018) was (session_id, status, enrolment_id): a check-in's entry landed at its
-- enrolment's place within the session, a different index page for nearly every scan of a batch, each one
-- written to the WAL at the commit. Keyed (session_id, status), SQLite orders equal keys by rowid, so the
-- check-ins of a session are appended to the same few pages. Readers that need the enrolment ids of a session's
-- rows (missing lists, the term report) take them from the table by rowid: a read of a whole session, once per
-- report, instead of a random page written on every scan. PostgreSQL (12 and later) orders equal keys by the
-- row's place in the table, which new rows take at its end: the same holds there.
DROP INDEX attendance_session_status;
CREATE INDEX attendance_session_status ON attendance (session_id, status);
