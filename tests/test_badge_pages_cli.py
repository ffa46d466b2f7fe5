"""`checkin badges pdf`: the sheets for the course or one unit, with a progress bar on stderr."""

from __future__ import annotations

import io
import sys

import pypdfium2 as pdfium
import zxingcpp

from checkin.cli import main

from .conftest import db_args


def decoded(path) -> list[str]:
    found = []
    for page in pdfium.PdfDocument(path.read_bytes()):
        image = page.render(scale=150 / 72, grayscale=True).to_pil()
        found += [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    return sorted(found)


def run(world, *args) -> int:
    return main(["badges", "pdf", *db_args(world.settings), "--course", str(world.course.id), *args])


def test_pdf_of_the_course_decodes_and_reports_when_stderr_is_a_file(world, tmp_path, capsys):
    out = tmp_path / "badges.pdf"
    assert run(world, "--out", str(out)) == 0
    assert decoded(out) == sorted(world.course.codes)
    err = capsys.readouterr().err
    assert "4/4 badges" in err and f"4 badges (a4-8) written to {out}" in err


def test_pdf_of_one_unit_with_a_progress_bar_on_a_terminal(world, tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "unit.pdf"
    assert run(world, "--out", str(out), "--layout", "a6", "--unit", "doan thanh nien so tai chinh") == 0
    assert decoded(out) == sorted(world.course.codes[i] for i in (0, 2))
    assert "\r[" + "#" * 30 + "] 2/2 badges\n" in terminal.getvalue()


def test_unknown_layout_or_unit_is_refused(world, tmp_path, capsys):
    assert run(world, "--out", str(tmp_path / "x.pdf"), "--layout", "a3") == 2
    assert run(world, "--out", str(tmp_path / "x.pdf"), "--unit", "Nowhere") == 2
    err = capsys.readouterr().err
    assert "unknown layout 'a3'" in err and "no active badge in unit 'Nowhere'" in err
    assert not (tmp_path / "x.pdf").exists()
