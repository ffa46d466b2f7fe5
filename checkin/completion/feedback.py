"""Feedback per session: who may give it and when, reading the questionnaire, and the results per session and
per speaker (pure, apart from the workbook)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import Problem
from ..models import CourseSession
from ..store.feedback import FeedbackRow
from ..text import clean, has_surrogate, whole_number

MAX_COMMENT = 2000
ARRIVED = ("present", "late", "left_early")


def may_give(session: CourseSession, status: str, given: bool, now: datetime) -> str | None:
    """Why this person may not give feedback for this session now (a Problem code), or None."""
    if given:
        return "feedback_already_given"
    if now < session.ends_at:
        return "feedback_too_early"
    if status not in ARRIVED:
        return "feedback_not_attended"
    return None


REFUSALS = {
    "feedback_already_given": (409, "You already gave your feedback for this session; it can be given once."),
    "feedback_not_attended": (403, "Feedback is for the sessions you attended; this one has no check-in of yours."),
    "feedback_too_early": (409, "Feedback for this session opens when it ends."),
}


def refuse(code: str) -> Problem:
    status, message = REFUSALS[code]
    return Problem(status, code, message)


@dataclass(frozen=True, slots=True)
class Answer:
    session_id: int
    content: int
    speaker: int
    comment: str


def parse_answer(form: Mapping[str, object]) -> Answer:
    session_id = whole_number(str(form.get("session_id", "")))
    if session_id is None:
        raise Problem(422, "unknown_session", "Choose the session your feedback is about.", field="session_id")
    ratings = []
    for name in ("content", "speaker"):
        value = whole_number(str(form.get(name, "")))
        if value is None or not 1 <= value <= 5:
            raise Problem(422, "bad_rating", "Give each rating from 1 (poor) to 5 (excellent).", field=name)
        ratings.append(value)
    raw = str(form.get("comment", ""))
    if has_surrogate(raw) or "\x00" in raw:
        raise Problem(422, "bad_comment", "The comment holds characters that are not text.", field="comment")
    comment = "\n".join(clean(line) for line in raw.replace("\r\n", "\n").split("\n")).strip()
    if len(comment) > MAX_COMMENT:
        raise Problem(422, "comment_too_long", "The comment is too long: keep it under 2,000 characters.",
                      field="comment")
    return Answer(session_id, ratings[0], ratings[1], comment)


@dataclass(slots=True)
class Summary:
    """Ratings of one session, or of one speaker over their sessions."""

    title: str
    count: int = 0
    content: list[int] = field(default_factory=lambda: [0] * 5)  # how many gave 1..5
    speaker: list[int] = field(default_factory=lambda: [0] * 5)
    comments: list[FeedbackRow] = field(default_factory=list)

    def add(self, row: FeedbackRow) -> None:
        self.count += 1
        self.content[row.content_rating - 1] += 1
        self.speaker[row.speaker_rating - 1] += 1
        if row.comment:
            self.comments.append(row)

    @staticmethod
    def _mean(counts: list[int]) -> float | None:
        total = sum(counts)
        return round(sum((i + 1) * n for i, n in enumerate(counts)) / total, 2) if total else None

    @property
    def content_mean(self) -> float | None:
        return self._mean(self.content)

    @property
    def speaker_mean(self) -> float | None:
        return self._mean(self.speaker)


def summarise(sessions: Sequence[CourseSession], speakers: Mapping[int, str], rows: Sequence[FeedbackRow]
              ) -> tuple[list[tuple[CourseSession, str, Summary]], list[Summary]]:
    """Per session (with its speaker) and per speaker (sessions without a speaker left out)."""
    by_session = {s.id: Summary(s.title) for s in sessions}
    by_speaker: dict[str, Summary] = {}
    for row in rows:
        if row.session_id not in by_session:
            continue
        by_session[row.session_id].add(row)
        name = speakers.get(row.session_id, "")
        if name:
            by_speaker.setdefault(name, Summary(name)).add(row)
    per_session = [(s, speakers.get(s.id, ""), by_session[s.id]) for s in sessions]
    return per_session, sorted(by_speaker.values(), key=lambda s: s.title.casefold())


def bars(counts: list[int], width: int = 220, bar: int = 14, gap: int = 4) -> list[dict]:
    """The bars of a server-drawn chart: one per rating 1..5, as SVG geometry."""
    most = max(counts) or 1
    return [{"rating": i + 1, "count": n, "y": i * (bar + gap), "width": round(width * n / most), "height": bar}
            for i, n in enumerate(counts)]


def workbook(title: str, per_session, per_speaker, headers: Mapping[str, str]) -> bytes:
    """The results as an .xlsx: a summary sheet, a sheet per speaker, every comment."""
    from openpyxl import Workbook

    from ..documents.exports import neutralise

    book = Workbook()
    sheet = book.active
    sheet.title = headers["sessions"][:31]
    sheet.append([title])
    sheet.append([headers["session"], headers["speaker"], headers["answers"], headers["content"], headers["speaker_rating"],
                  *[f"{headers['content']} {i}" for i in range(1, 6)], *[f"{headers['speaker_rating']} {i}" for i in range(1, 6)]])
    for session, speaker, summary in per_session:
        sheet.append([neutralise(session.title), neutralise(speaker), summary.count, summary.content_mean,
                      summary.speaker_mean, *summary.content, *summary.speaker])
    speakers = book.create_sheet(headers["speakers"][:31])
    speakers.append([headers["speaker"], headers["answers"], headers["content"], headers["speaker_rating"]])
    for summary in per_speaker:
        speakers.append([neutralise(summary.title), summary.count, summary.content_mean, summary.speaker_mean])
    comments = book.create_sheet(headers["comments"][:31])
    comments.append([headers["session"], headers["content"], headers["speaker_rating"], headers["comment"],
                     headers["name"], headers["unit"]])
    for session, _speaker, summary in per_session:
        for row in summary.comments:
            comments.append([neutralise(session.title), row.content_rating, row.speaker_rating, neutralise(row.comment),
                             neutralise(row.full_name), neutralise(row.unit)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
