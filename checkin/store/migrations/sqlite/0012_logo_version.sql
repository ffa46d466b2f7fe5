-- A course logo's version: a new random value with every upload. Badge images made from a logo are cached under
-- its version, so a new logo is never answered with images of the old one (even two uploads in the same instant).
-- Logos uploaded before this migration take their upload time as their version.
ALTER TABLE course_logos ADD COLUMN version TEXT NOT NULL DEFAULT '';
UPDATE course_logos SET version = updated_at;
