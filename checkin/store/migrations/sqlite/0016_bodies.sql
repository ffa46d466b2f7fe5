-- The organising body ("Đoàn Khối các cơ quan thành phố"): what a course's organiser_name prints, kept as a row
-- so that what outlives one course belongs to it: the directory of member units, the cadres' records across
-- courses, the programmes of a term. A course belongs to one body; courses naming the same body share it.
CREATE TABLE bodies (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,            -- as printed (cleaned of extra spaces), '' for courses that name none
    created_at TEXT NOT NULL
);
INSERT INTO bodies (name, created_at) SELECT organiser_name, MIN(created_at) FROM courses GROUP BY organiser_name;
ALTER TABLE courses ADD COLUMN body_id INTEGER REFERENCES bodies(id);
UPDATE courses SET body_id = (SELECT b.id FROM bodies b WHERE b.name = courses.organiser_name);
CREATE INDEX courses_body ON courses (body_id);
