-- Issue 11: a door's first check-ins no longer queue on the course's event number (migrations/sqlite/0025 says
-- the same for SQLite, where nothing changes in how check-ins are written).
--
-- Until now each check-in took courses.event_seq in its own transaction: the course's row stayed locked to the
-- commit, WAL flush included, so one course's check-ins committed one after the other. Now a check-in commits
-- with no number (event_seq NULL, event_pending 1) and a short numbering transaction gives every committed,
-- un-numbered check-in of the course its number afterwards, many at a time (store/scans.number_checkins). The
-- numbering holds the course's row to its commit, so numbers still appear in commit order; readers of events
-- (event_seq > n) do not see a check-in until it is numbered.
--
-- event_pending is 1 only while a check-in waits for its number, NULL otherwise (refused scans, exit scans, a
-- check-in whose event is a correction in the events table, every row written before this migration): the
-- partial index holds only the waiting ones, so finding them costs nothing however long the log is.
ALTER TABLE scans ADD COLUMN event_pending INTEGER;
CREATE INDEX scans_event_pending ON scans (course_id, id) WHERE event_pending = 1;
