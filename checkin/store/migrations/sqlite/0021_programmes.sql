-- Programmes of an organising body (a year's plan, or the term "Nhiệm kỳ 2022–2027"): a set of its courses,
-- with requirements ("every Bí thư and Phó Bí thư completes course X", "at least N of these courses").
CREATE TABLE programmes (
    id         INTEGER PRIMARY KEY,
    body_id    INTEGER NOT NULL REFERENCES bodies(id),
    title      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (body_id, title)
);

CREATE TABLE programme_courses (
    programme_id INTEGER NOT NULL REFERENCES programmes(id),
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    PRIMARY KEY (programme_id, course_id)
);

-- Met by a cadre holding a valid certificate of at least `minimum` of the requirement's courses. Positions
-- as rosters spell them, normalised (store/programmes.position_key); none listed: every cadre.
CREATE TABLE programme_requirements (
    id            INTEGER PRIMARY KEY,
    programme_id  INTEGER NOT NULL REFERENCES programmes(id),
    label         TEXT NOT NULL,
    positions     TEXT NOT NULL DEFAULT '',     -- as typed, one per line
    position_keys TEXT NOT NULL DEFAULT '',     -- normalised, one per line
    minimum       INTEGER NOT NULL CHECK (minimum >= 1),
    created_at    TEXT NOT NULL
);
CREATE INDEX programme_requirements_programme ON programme_requirements (programme_id);

CREATE TABLE requirement_courses (
    requirement_id INTEGER NOT NULL REFERENCES programme_requirements(id),
    course_id      INTEGER NOT NULL REFERENCES courses(id),
    PRIMARY KEY (requirement_id, course_id)
);
