"""Member units: the directory of a body, the summons of a course, the unit's private link and nominations."""
