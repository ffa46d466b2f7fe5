-- The excuse an organiser gave for a session, kept when the person turns up after all, so that undoing
-- that check-in brings the excuse back instead of losing it. NULL: never excused (or the excuse was cleared).
ALTER TABLE attendance ADD COLUMN excuse TEXT;
UPDATE attendance SET excuse = note WHERE status = 'excused';
