-- Organisers' sign-in sessions are kept here, so that every server on the database sees a session end at once:
-- logging out, a password change and an administrator disabling the account end them, a copied cookie included.
-- The cookie carries a random session id; only its SHA-256 is stored.
CREATE TABLE sign_in_sessions (
    id           INTEGER PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    organiser_id INTEGER NOT NULL REFERENCES organisers(id),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,           -- brought up to date at most every few minutes
    expires_at   TEXT NOT NULL,           -- moves with last_seen_at: fourteen days without use end a session
    ended_at     TEXT,
    end_reason   TEXT                     -- signed_out, password_changed, account_disabled
);
CREATE INDEX sign_in_sessions_organiser ON sign_in_sessions (organiser_id);
CREATE INDEX sign_in_sessions_expiry ON sign_in_sessions (expires_at);

-- Wrong passwords (sign-in and the password page) and wrong pairing codes, shared by every server. Rows older
-- than the limiter's window are deleted as new ones come, and the table is capped (the oldest go first), so an
-- attacker trying many names or addresses costs a bounded amount of space.
CREATE TABLE sign_in_failures (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('password', 'pairing')),
    username  TEXT NOT NULL,              -- as typed, lower case; '' for pairing codes
    address   TEXT NOT NULL,              -- the client's address (behind a trusted proxy: the real client's)
    failed_at TEXT NOT NULL
);
CREATE INDEX sign_in_failures_name ON sign_in_failures (kind, username, failed_at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (kind, address, failed_at);
CREATE INDEX sign_in_failures_time ON sign_in_failures (failed_at);

-- An administrator may disable an account: it can no longer sign in, and its sessions end.
ALTER TABLE organisers ADD COLUMN disabled_at TEXT;

-- The session version of 0008 ended sessions by changing a number in every cookie; the sessions table does that
-- job now, one session at a time.
ALTER TABLE organisers DROP COLUMN session_version;

-- Courses made by `checkin demo`: a database holding any other course (or organiser) holds real data, and the
-- demo command then leaves the demo account's password alone.
ALTER TABLE courses ADD COLUMN made_by_demo INTEGER NOT NULL DEFAULT 0;
