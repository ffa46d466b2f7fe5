-- Pairing links: an organiser shows a QR or a short code; an usher's phone redeems it for a device
-- token. Only a hash of the pairing secret is kept; it lives minutes, for a few phones at most.

CREATE TABLE pairings (
    id           INTEGER PRIMARY KEY,
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    secret_hash  TEXT NOT NULL UNIQUE,          -- sha256 of the pairing code; the code is shown once
    created_by   INTEGER REFERENCES organisers(id),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    max_uses     INTEGER NOT NULL CHECK (max_uses > 0),
    uses         INTEGER NOT NULL DEFAULT 0,
    revoked_at   TEXT
);
CREATE INDEX pairings_course ON pairings (course_id, id);
