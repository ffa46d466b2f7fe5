"""Badge printing: the store's badge links as the cards the sheets and images draw. (A PDF of many badges is made
as a job: routes/badges_print.py with checkin/jobs.py.)"""

from __future__ import annotations

from collections.abc import Iterable

from ..models import Course
from ..store.people import BadgeLink
from .badges import BadgeCard, sort_cards


def card_for(course: Course, link: BadgeLink) -> BadgeCard:
    return BadgeCard(
        code=link.code, full_name=link.full_name, unit=link.unit, position=link.position,
        course_title=course.title, course_date=course.course_date.strftime("%d/%m/%Y"), venue=course.venue,
    )


def cards_for(course: Course, links: Iterable[BadgeLink]) -> list[BadgeCard]:
    """Cards in print order: by unit, then by name as Vietnamese lists are ordered."""
    return sort_cards(card_for(course, link) for link in links)
