"""People across courses, programmes and the term report (issue 13)."""
