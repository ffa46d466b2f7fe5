"""A course's own work: attendance as the reports count it (pure), imports, corrections by hand, mailing badge
links, the demo course."""
