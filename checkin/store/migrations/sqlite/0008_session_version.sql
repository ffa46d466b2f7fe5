-- An organiser's sign-in cookie carries this number; a password change raises it, so every cookie issued
-- before the change (a stolen one included) stops working at once instead of living out its 14 days.
ALTER TABLE organisers ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
