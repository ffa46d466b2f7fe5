-- Badges: a logo per course for printed badges, and the result of emailing each person their badge link.

CREATE TABLE course_logos (
    course_id    BIGINT PRIMARY KEY REFERENCES courses(id),
    content_type TEXT NOT NULL,                 -- image/png | image/jpeg, checked on upload
    data         BYTEA NOT NULL,
    updated_at   TEXT NOT NULL
);

-- One row per enrolment that an email was attempted for. 'sending' is written before the SMTP
-- conversation and replaced after it: a row left in 'sending' (the process stopped mid-message) is
-- "uncertain" and is never re-sent automatically, so nobody gets the same mail twice by accident.
CREATE TABLE badge_mailings (
    enrolment_id BIGINT PRIMARY KEY REFERENCES enrolments(id),
    course_id    BIGINT NOT NULL REFERENCES courses(id),
    email        TEXT NOT NULL,                 -- the address it went to
    code         TEXT NOT NULL,                 -- the badge code whose link was sent
    status       TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    reason       TEXT NOT NULL DEFAULT '',      -- why it failed, for the organiser
    attempts     INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL,
    sent_at      TEXT
);
CREATE INDEX badge_mailings_course ON badge_mailings (course_id, status);
