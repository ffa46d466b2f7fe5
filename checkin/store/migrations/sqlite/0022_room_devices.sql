-- Self check-in with a room code (issue 14): the phone each badge is bound to, by the first room check-in made
-- with it. Only a hash of the phone's key is kept. A room check-in from another phone is refused, and recorded in
-- the scan log (method room_code, reason other_device) for the organiser's room screen.
CREATE TABLE room_devices (
    enrolment_id INTEGER PRIMARY KEY REFERENCES enrolments(id),
    key_hash     TEXT NOT NULL,
    bound_at     TEXT NOT NULL
);
CREATE INDEX scans_room_refusals ON scans (course_id, method, reason);
