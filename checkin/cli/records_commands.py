"""People across courses and the term report on the command line: merge, split and erase records, export a
person's record, apply the retention settings, write the term report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from ..clock import system_clock
from ..errors import Problem
from ..settings import Settings
from ..store import persons
from ..store.db import transaction
from .common import CommandError, connect, say, write_out


def _run_tx(conn, fn, *args):
    try:
        with transaction(conn):
            return fn(conn, *args)
    except Problem as exc:
        raise CommandError(f"{exc.message} ({exc.code})") from None


def _actor():
    from ..records.merging import Actor

    return Actor(None, system_clock())


def _body_of(conn, person_id: int) -> int:
    person = persons.get_person(conn, person_id)
    if person is None:
        raise CommandError(f"there is no person {person_id}; their number is on their record page")
    return person.body_id


def cmd_people_merge(args, settings: Settings) -> int:
    from ..records import merging

    conn = connect(settings)
    merge_id = _run_tx(conn, merging.merge_tx, _actor(), _body_of(conn, args.kept), args.kept, args.merged, args.reason)
    say(f"Record {args.merged} merged into {args.kept} (merge {merge_id}; `checkin people split {merge_id}` undoes it).")
    print(merge_id)
    return 0


def cmd_people_split(args, settings: Settings) -> int:
    from ..records import merging

    conn = connect(settings)
    row = conn.execute("SELECT body_id FROM person_merges WHERE id = ?", (args.merge_id,)).fetchone()
    if row is None:
        raise CommandError(f"there is no merge {args.merge_id}")
    person_id = _run_tx(conn, merging.split_tx, _actor(), row[0], args.merge_id, args.reason)
    say(f"Merge {args.merge_id} split: record {person_id} stands again.")
    return 0


def cmd_people_erase(args, settings: Settings) -> int:
    from ..records import merging

    conn = connect(settings)
    erased = _run_tx(conn, merging.erase_tx, _actor(), _body_of(conn, args.person), args.person, args.reason)
    say(f"Record {args.person} erased: name and contacts removed from {erased} course record(s).")
    return 0


def cmd_records_export(args, settings: Settings) -> int:
    from ..documents import records_documents
    from ..i18n import reset_language, set_language
    from ..records import merging
    from ..records.record import read_record

    conn = connect(settings)
    found = read_record(conn, args.person, system_clock())
    if found is None:
        raise CommandError(f"there is no person {args.person}; their number is on their record page")
    if args.format != "json" and args.out is None:
        raise CommandError(f"--out FILE is needed for {args.format}")
    token = set_language(args.lang)
    try:
        if args.format == "json":
            write_out(args.out, json.dumps(records_documents.record_data(found), ensure_ascii=False, indent=1) + "\n")
        elif args.format == "xlsx":
            args.out.write_bytes(records_documents.record_workbook(found))
        else:
            args.out.write_bytes(records_documents.record_pdf(found))
    finally:
        reset_language(token)
    _run_tx(conn, merging.audit_export_tx, _actor(), found.person.id, args.format)
    if args.out is not None and args.format != "json":
        say(f"Record {found.person.id} ({len(found.courses)} course(s)) written to {args.out}.")
    return 0


def cmd_records_retention(args, settings: Settings) -> int:
    from ..records import retention

    conn = connect(settings)
    today = system_clock().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    total = 0
    for (body_id,) in conn.execute("SELECT id FROM bodies WHERE retention_months IS NOT NULL ORDER BY id").fetchall():
        total += _run_tx(conn, retention.apply_retention_tx, _actor(), body_id, today)
    say(f"Contact details erased from {total} course record(s).")
    return 0


def cmd_report_term(args, settings: Settings) -> int:
    from ..documents import term_report_documents as docs
    from ..i18n import reset_language, set_language
    from ..records.term_report import Scope, read_term_report
    from ..store import programmes

    conn = connect(settings)
    if args.programme is not None:
        programme = programmes.get_programme(conn, args.programme)
        if programme is None:
            raise CommandError(f"there is no programme {args.programme}")
        scope = Scope(programme.body_id, programme.id, unit_id=args.unit, position=args.position or "")
    else:
        if args.body is None or args.start is None or args.end is None:
            raise CommandError("give --programme ID, or --body ID with --from and --to (YYYY-MM-DD)")
        scope = Scope(args.body, None, args.start, args.end, args.unit, args.position or "")
    try:
        report = read_term_report(conn, scope)
    except Problem as exc:
        raise CommandError(f"{exc.message} ({exc.code})") from None
    token = set_language(args.lang)
    try:
        data = docs.report_workbook(report) if args.format == "xlsx" else docs.report_pdf(report)
    finally:
        reset_language(token)
    args.out.write_bytes(data)
    say(f"Term report {report.title} ({len(report.courses)} course(s), {report.total.nominated} nominations)"
        f" written to {args.out}.")
    return 0


def add_parsers(sub, common) -> None:
    """`checkin people ...`, `checkin records ...`, `checkin report term`."""
    p = sub.add_parser("people", help="one person across courses: merge, split, erase")
    psub = p.add_subparsers(title="people commands", metavar="ACTION")
    c = psub.add_parser("merge", parents=[common], help="merge record MERGED into record KEPT (prints the merge id)")
    c.add_argument("kept", type=int)
    c.add_argument("merged", type=int)
    c.add_argument("--reason", required=True, help="why: goes into the audit trail")
    c.set_defaults(func=cmd_people_merge)
    c = psub.add_parser("split", parents=[common], help="undo a merge exactly")
    c.add_argument("merge_id", type=int)
    c.add_argument("--reason", required=True, help="why: goes into the audit trail")
    c.set_defaults(func=cmd_people_split)
    c = psub.add_parser("erase", parents=[common], help="erase a person on request (name and contacts; counts kept)")
    c.add_argument("person", type=int)
    c.add_argument("--reason", required=True, help="why: goes into the audit trail")
    c.set_defaults(func=cmd_people_erase)

    p = sub.add_parser("records", help="a person's training record; the retention of contact details")
    rsub = p.add_subparsers(title="records commands", metavar="ACTION")
    c = rsub.add_parser("export", parents=[common], help="a person's record and data: json (default), xlsx or pdf")
    c.add_argument("--person", type=int, required=True, help="the person's record number")
    c.add_argument("--format", choices=["json", "xlsx", "pdf"], default="json")
    c.add_argument("--lang", choices=("vi", "en"), default="vi")
    c.add_argument("--out", type=Path, help="the file to write (stdout for json without it)")
    c.set_defaults(func=cmd_records_export)
    c = rsub.add_parser("retention", parents=[common],
                        help="erase contact details past each body's retention setting (a running server does it daily)")
    c.set_defaults(func=cmd_records_retention)

    p = sub.add_parser("report", help="reports across courses")
    rsub = p.add_subparsers(title="report commands", metavar="ACTION")
    c = rsub.add_parser("term", parents=[common], help="the term report of a programme or a date range")
    c.add_argument("--programme", type=int, help="programme id")
    c.add_argument("--body", type=int, help="organising body id (with --from and --to)")
    c.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD")
    c.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD")
    c.add_argument("--unit", type=int, help="only this unit id")
    c.add_argument("--position", help="only this position (case, spaces and diacritics ignored)")
    c.add_argument("--format", choices=["xlsx", "pdf"], default="xlsx")
    c.add_argument("--lang", choices=("vi", "en"), default="vi")
    c.add_argument("--out", type=Path, required=True, help="the file to write")
    c.set_defaults(func=cmd_report_term)
