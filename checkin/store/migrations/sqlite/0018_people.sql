-- One person across the courses of an organising body (issue 13). A participants row stays what was true for
-- its course (name, unit and position as that roster had them); people holds the person they belong to, with
-- the details of their latest course (each field from the latest course that gave it). Matching (store/persons.py):
-- member code; else phone with the same name; else a proposal the organiser confirms or rejects.
CREATE TABLE people (
    id           INTEGER PRIMARY KEY,
    body_id      INTEGER NOT NULL REFERENCES bodies(id),
    full_name    TEXT NOT NULL DEFAULT '',
    name_key     TEXT NOT NULL DEFAULT '',      -- fold(name) without spaces
    unit_id      INTEGER REFERENCES units(id),
    position     TEXT NOT NULL DEFAULT '',
    phone        TEXT NOT NULL DEFAULT '',
    phone_key    TEXT NOT NULL DEFAULT '',      -- digits, +84/84 as 0
    email        TEXT NOT NULL DEFAULT '',
    member_code  TEXT NOT NULL DEFAULT '',
    code_key     TEXT NOT NULL DEFAULT '',      -- lower case
    merged_into  INTEGER REFERENCES people(id),   -- set by a merge, cleared by its split
    erased_at    TEXT,                          -- erased on request: name and contacts gone, counts kept
    created_at   TEXT NOT NULL
);
CREATE INDEX people_body_code ON people (body_id, code_key);
CREATE INDEX people_body_phone ON people (body_id, phone_key);
CREATE INDEX people_body_name ON people (body_id, name_key, unit_id);
ALTER TABLE participants ADD COLUMN person_id INTEGER REFERENCES people(id);
CREATE INDEX participants_person ON participants (person_id);
-- A person's courses are found from their participants: enrolments by participant (the unique key starts
-- with the course).
CREATE INDEX enrolments_participant ON enrolments (participant_id);
-- Who attended each session of a course, read from the index alone (the term report counts 300,000 of them).
CREATE INDEX attendance_session_status ON attendance (session_id, status, enrolment_id);

-- Two records that may be one person (same name and unit, or same phone with another name): never merged
-- silently; the organiser confirms (a merge) or rejects (never proposed again for the pair).
CREATE TABLE person_proposals (
    id           INTEGER PRIMARY KEY,
    body_id      INTEGER NOT NULL REFERENCES bodies(id),
    person_id    INTEGER NOT NULL REFERENCES people(id),   -- the newer record
    other_id     INTEGER NOT NULL REFERENCES people(id),   -- the one it looks like
    basis        TEXT NOT NULL CHECK (basis IN ('name_unit', 'phone')),
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'confirmed', 'rejected', 'merged')),
    created_at   TEXT NOT NULL,
    decided_at   TEXT,
    organiser_id INTEGER REFERENCES organisers(id),
    UNIQUE (person_id, other_id)
);
CREATE INDEX person_proposals_body ON person_proposals (body_id, status);

-- Every merge, with what it moved, so that its split puts back exactly what was there.
CREATE TABLE person_merges (
    id              INTEGER PRIMARY KEY,
    body_id         INTEGER NOT NULL REFERENCES bodies(id),
    kept_id         INTEGER NOT NULL REFERENCES people(id),
    merged_id       INTEGER NOT NULL REFERENCES people(id),
    participant_ids TEXT NOT NULL,              -- JSON list: the participants moved from merged_id to kept_id
    proposals       TEXT NOT NULL,              -- JSON list of [proposal id, status before the merge]
    reason          TEXT NOT NULL,
    organiser_id    INTEGER REFERENCES organisers(id),
    merged_at       TEXT NOT NULL,
    split_at        TEXT,
    split_reason    TEXT NOT NULL DEFAULT '',
    split_by        INTEGER REFERENCES organisers(id)
);
CREATE INDEX person_merges_people ON person_merges (kept_id, merged_id);

-- Existing participants: linked by the same rules, per body. A temporary table of keys, one person per group
-- (member code; else a phone, joined to the member code of a participant with that phone and the same name;
-- else the participant alone), the person's id being the group's smallest participant id.
CREATE TABLE person_seeds (
    participant_id INTEGER PRIMARY KEY,
    body_id        INTEGER NOT NULL,
    code_key       TEXT NOT NULL,
    phone_key      TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    seed           TEXT
);
INSERT INTO person_seeds (participant_id, body_id, code_key, phone_key, name_key)
SELECT p.id, MIN(c.body_id), LOWER(p.member_code),
       REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(p.phone, ' ', ''), '.', ''), '-', ''), '(', ''), ')', ''), '+', ''),
       REPLACE(p.name_key, ' ', '')
FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id
WHERE c.body_id IS NOT NULL
GROUP BY p.id, p.member_code, p.phone, p.name_key;
UPDATE person_seeds SET phone_key = '0' || SUBSTR(phone_key, 3) WHERE phone_key LIKE '84%' AND LENGTH(phone_key) = 11;
UPDATE person_seeds SET seed = 'c' || code_key WHERE code_key <> '';
UPDATE person_seeds SET seed = COALESCE(
    (SELECT MIN(s.seed) FROM person_seeds s WHERE s.body_id = person_seeds.body_id AND s.phone_key = person_seeds.phone_key
     AND s.name_key = person_seeds.name_key AND s.code_key <> ''),
    'p' || phone_key || ' ' || name_key)
WHERE code_key = '' AND phone_key <> '';
UPDATE person_seeds SET seed = 'n' || CAST(participant_id AS TEXT) WHERE seed IS NULL;
INSERT INTO people (id, body_id, created_at)
SELECT MIN(s.participant_id), s.body_id, MIN(p.created_at)
FROM person_seeds s JOIN participants p ON p.id = s.participant_id GROUP BY s.body_id, s.seed;
UPDATE participants SET person_id = (
    SELECT MIN(s2.participant_id) FROM person_seeds s1 JOIN person_seeds s2 ON s2.body_id = s1.body_id AND s2.seed = s1.seed
    WHERE s1.participant_id = participants.id)
WHERE id IN (SELECT participant_id FROM person_seeds);
DROP TABLE person_seeds;
-- Each field from the person's latest course that gave it (store/persons.refresh_person does the same).
UPDATE people SET
    full_name = COALESCE((SELECT p.full_name FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.full_name <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''),
    position = COALESCE((SELECT p.position FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.position <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''),
    phone = COALESCE((SELECT p.phone FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.phone <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''),
    email = COALESCE((SELECT p.email FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.email <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''),
    member_code = COALESCE((SELECT p.member_code FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.member_code <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''),
    unit_id = (SELECT p.unit_id FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.unit_id IS NOT NULL ORDER BY c.course_date DESC, p.id DESC LIMIT 1);
UPDATE people SET name_key = REPLACE(COALESCE((SELECT p.name_key FROM participants p JOIN enrolments e ON e.participant_id = p.id JOIN courses c ON c.id = e.course_id WHERE p.person_id = people.id AND p.full_name <> '' ORDER BY c.course_date DESC, p.id DESC LIMIT 1), ''), ' ', ''),
    code_key = LOWER(member_code),
    phone_key = REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(phone, ' ', ''), '.', ''), '-', ''), '(', ''), ')', ''), '+', '');
UPDATE people SET phone_key = '0' || SUBSTR(phone_key, 3) WHERE phone_key LIKE '84%' AND LENGTH(phone_key) = 11;
-- Proposals: records of one body with the same name and unit that never shared a course.
INSERT INTO person_proposals (body_id, person_id, other_id, basis, status, created_at)
SELECT a.body_id, a.id, b.id, 'name_unit', 'open', a.created_at
FROM people a JOIN people b ON b.body_id = a.body_id AND b.name_key = a.name_key AND b.unit_id = a.unit_id AND b.id < a.id
WHERE a.name_key <> '' AND NOT EXISTS (
    SELECT 1 FROM participants pa JOIN enrolments ea ON ea.participant_id = pa.id
    JOIN enrolments eb ON eb.course_id = ea.course_id JOIN participants pb ON pb.id = eb.participant_id
    WHERE pa.person_id = a.id AND pb.person_id = b.id);

-- How long a body keeps the contact details of a finished course (months; NULL: until erased by hand).
ALTER TABLE bodies ADD COLUMN retention_months INTEGER;
