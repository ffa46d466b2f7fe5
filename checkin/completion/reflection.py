"""The written reflection ("bài thu hoạch"): when a cadre may write or submit it, reading the text, the storage
limit, the organiser's review, and the bundle per unit (a zip, or one PDF) drawn in a worker process."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import zipfile
from collections.abc import Callable
from datetime import datetime

from ..errors import Problem
from ..store import reflections
from ..store.completion import CompletionRule
from ..store.db import connect
from ..store.reflections import ListedReflection, Reflection
from ..text import has_surrogate

MAX_TEXT = 50_000
MAX_COMMENT = 2_000
WITH_CONTENT = ("submitted", "accepted", "returned")
REVIEW_STATES = ("accepted", "returned")


def may_write(rule: CompletionRule, reflection: Reflection | None, now: datetime) -> None:
    """Raise why this cadre may not write (draft or submit) their reflection now."""
    if not rule.require_reflection:
        raise Problem(404, "reflection_not_asked", "This course does not ask for a written reflection.")
    if rule.reflection_deadline is not None and now >= rule.reflection_deadline:
        raise Problem(409, "reflection_closed", "The deadline for the reflection has passed. Ask the organisers if "
                      "you still need to hand it in.")
    if reflection is not None and reflection.state == "accepted":
        raise Problem(409, "reflection_accepted", "Your reflection was accepted: there is nothing more to do.")


def clean_text(raw: object, *, field: str, required: bool) -> str:
    if not isinstance(raw, str) or has_surrogate(raw) or "\x00" in raw:
        raise Problem(422, "bad_text", "The text holds characters that are not text.", field=field)
    text = raw.replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise Problem(422, "reflection_too_long", "The reflection is too long: keep it under 50,000 characters.",
                      field=field)
    if required and not text:
        raise Problem(422, "reflection_empty", "Write your reflection (or upload a file) before submitting.",
                      field=field)
    return text


def check_storage(conn: sqlite3.Connection, rule: CompletionRule, enrolment_id: int, size: int) -> None:
    used = reflections.storage_used(conn, rule.course_id, except_enrolment=enrolment_id)
    if used + size > rule.storage_limit_mb * 1_000_000:
        raise Problem(413, "course_storage_full", "This course's storage for reflections is full. Ask the organisers "
                      "to raise it, or upload a smaller file (a PDF or a compressed photo).")


def parse_review(form) -> tuple[str, str]:
    decision = str(form.get("decision", ""))
    if decision not in REVIEW_STATES:
        raise Problem(422, "invalid_field", "Choose accept or return.", field="decision")
    comment = str(form.get("comment", "")).replace("\r\n", "\n").strip()
    if has_surrogate(comment) or len(comment) > MAX_COMMENT:
        raise Problem(422, "comment_too_long", "The comment is too long: keep it under 2,000 characters.",
                      field="comment")
    if decision == "returned" and not comment:
        raise Problem(422, "comment_required", "Say what to change when you return a reflection.", field="comment")
    return decision, comment


# --- the bundle per unit --------------------------------------------------------------------------------


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_name(text: str, fallback: str = "-") -> str:
    return _UNSAFE.sub("_", text).strip(" .")[:80] or fallback


def chosen(listed: list[ListedReflection], unit: str | None) -> list[ListedReflection]:
    return [x for x in listed if x.reflection is not None and x.reflection.state in WITH_CONTENT
            and (unit is None or x.unit == unit)]


def bundle_at(target, course_id: int, unit: str | None, fmt: str, progress: Callable[[int], None] | None = None
              ) -> tuple[bytes, int]:
    """The reflections (of one unit, or all) as a zip or one PDF, read and drawn in a worker process."""
    conn = connect(target)
    try:
        items = chosen(reflections.list_reflections(conn, course_id), unit)
        files = {x.enrolment_id: reflections.read_file(conn, x.reflection.id) for x in items if x.reflection.file_size}
    finally:
        conn.close()
    if fmt == "pdf":
        return bundle_pdf(items, files, progress), len(items)
    return bundle_zip(items, files, progress), len(items)


def bundle_zip(items: list[ListedReflection], files: dict[int, bytes], progress=None) -> bytes:
    out = io.BytesIO()
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow(["unit", "full_name", "state", "submitted_at", "file", "review_comment"])
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, x in enumerate(items, start=1):
            r = x.reflection
            folder = safe_name(x.unit, "no-unit")
            stem = f"{number:04d} {safe_name(x.full_name)}"
            if r.file_size:
                extension = r.file_name.rpartition(".")[2] if "." in r.file_name else "bin"
                name = f"{folder}/{stem}.{safe_name(extension.lower(), 'bin')}"
                archive.writestr(name, files.get(x.enrolment_id, b""), compress_type=zipfile.ZIP_STORED)
            else:
                name = f"{folder}/{stem}.txt"
                archive.writestr(name, r.body.encode("utf-8"))
            writer.writerow([x.unit, x.full_name, r.state, r.submitted_at.isoformat() if r.submitted_at else "",
                             name, r.review_comment])
            if progress:
                progress(number)
        archive.writestr("index.csv", "\ufeff" + index.getvalue())
    return out.getvalue()


def bundle_pdf(items: list[ListedReflection], files: dict[int, bytes], progress=None) -> bytes:
    """One PDF: for each person a heading page, then their text, photo or document; uploaded PDFs keep their own
    pages (imported, not redrawn)."""
    import pypdfium2 as pdfium

    from ..documents.pdf import FONT_FAMILY, new_document
    from .uploads import docx_text

    drawn = new_document(title="Reflections")
    starts: list[tuple[int, int]] = []  # (first page in `drawn`, pages) per item
    for x in items:
        r = x.reflection
        first = drawn.page_no()
        drawn.add_page()
        drawn.set_margins(20, 20, 20)
        drawn.set_xy(20, 20)
        drawn.set_font(FONT_FAMILY, "B", 16)
        drawn.multi_cell(170, 8, x.full_name, new_x="LMARGIN", new_y="NEXT")
        drawn.set_font(FONT_FAMILY, "", 11)
        drawn.multi_cell(170, 6, f"{x.unit}\n{r.state}" + (f" · {r.review_comment}" if r.review_comment else ""),
                         new_x="LMARGIN", new_y="NEXT")
        drawn.ln(4)
        data = files.get(x.enrolment_id, b"")
        kind = r.file_type
        if not r.file_size:
            _text(drawn, r.body)
        elif kind.startswith("image/"):
            try:
                drawn.image(io.BytesIO(data), x=20, y=drawn.get_y() + 2, w=170, keep_aspect_ratio=True,
                            h=297 - drawn.get_y() - 25)
            except Exception:  # noqa: BLE001 (a photo fpdf cannot place: said, not fatal for the bundle)
                _text(drawn, f"[{r.file_name}]")
        elif kind.endswith("wordprocessingml.document"):
            _text(drawn, docx_text(data))
        starts.append((first, drawn.page_no() - first))
    drawn_doc = pdfium.PdfDocument(bytes(drawn.output())) if items else None
    final = pdfium.PdfDocument.new()
    for number, (x, (first, count)) in enumerate(zip(items, starts), start=1):
        final.import_pages(drawn_doc, pages=list(range(first, first + count)))
        if x.reflection.file_type == "application/pdf" and x.enrolment_id in files:
            source = pdfium.PdfDocument(files[x.enrolment_id])
            try:
                final.import_pages(source)
            finally:
                source.close()
        if progress:
            progress(number)
    out = io.BytesIO()
    final.save(out)
    final.close()
    if drawn_doc is not None:
        drawn_doc.close()
    return out.getvalue()


TEXT_PT = 11
LINE_MM = 5.5
TOP_MM, BOTTOM_MM, LEFT_MM, WIDTH_MM = 20.0, 277.0, 20.0, 170.0


def _lines(text: str, width_mm: float, size_pt: float) -> list[str]:
    """Greedy line breaking in linear time: each word measured once (cached), spaces added up."""
    from ..documents.pdf import PT_MM, text_width_em

    limit = width_mm / (size_pt * PT_MM)
    space = text_width_em(" ")
    out: list[str] = []
    for paragraph in text.split("\n"):
        words, width = [], 0.0
        for word in paragraph.split():
            w = text_width_em(word)
            while w > limit and len(word) > 1:  # a word longer than the line: broken, never dropped
                cut = max(1, int(len(word) * limit / w))
                if words:
                    out.append(" ".join(words))
                    words, width = [], 0.0
                out.append(word[:cut])
                word = word[cut:]
                w = text_width_em(word)
            if words and width + space + w > limit:
                out.append(" ".join(words))
                words, width = [], 0.0
            width = width + space + w if words else w
            words.append(word)
        out.append(" ".join(words))
    return out


def _text(pdf, text: str) -> None:
    """Plain text on as many pages as it takes (fpdf's multi_cell is far slower on long texts)."""
    from ..documents.pdf import FONT_FAMILY

    pdf.set_font(FONT_FAMILY, "", TEXT_PT)
    y = pdf.get_y() + LINE_MM
    for line in _lines(text or "—", WIDTH_MM, TEXT_PT):
        if y > BOTTOM_MM:
            pdf.add_page()
            y = TOP_MM + LINE_MM
        if line:
            pdf.text(LEFT_MM, y, line)
        y += LINE_MM
    pdf.set_y(y)
