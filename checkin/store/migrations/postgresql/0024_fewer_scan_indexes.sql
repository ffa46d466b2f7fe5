-- Fewer index entries per check-in (issue 10: the door's writer). Each first check-in writes a scan row and an
-- attendance row; every index on them is written too.
-- attendance (session_id) is the first column of attendance_session_status (0018): that index serves its queries.
DROP INDEX attendance_session;
-- The room screen lists only room check-ins refused as other_device (store/completion.list_room_refusals):
-- a partial index holds those, and the other scans write nothing to it.
DROP INDEX scans_room_refusals;
CREATE INDEX scans_room_refusals ON scans (course_id, id) WHERE method = 'room_code' AND reason = 'other_device';
