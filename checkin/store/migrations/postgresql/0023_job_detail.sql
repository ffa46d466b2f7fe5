-- What a job reports beside its progress, as JSON (a sending run: how many mails went, how many failed), so that
-- any instance shows it while the job runs on another.
ALTER TABLE jobs ADD COLUMN detail TEXT NOT NULL DEFAULT '';
