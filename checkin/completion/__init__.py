"""Completing a course (issue 14): exit scans and time present, the completion rule behind the certificate,
feedback per session, the written reflection, and the room code for self check-in."""
