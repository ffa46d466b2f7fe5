"""What an uploaded reflection really is, from its content (never from its name or the browser's claim): a PDF,
a Word .docx, or a photo (JPEG, PNG, WebP) of a handwritten page. Refused with a clear code: anything else, a file
whose name claims another type, a zip bomb in a .docx, a decoding bomb in a photo, macros in a .docx, scripts or
launch actions in a PDF. Run in a worker process (checkin.documents.workers): a hostile file costs that process,
within its limits, not the door's."""

from __future__ import annotations

import io
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass

from ..errors import Problem

MB = 1_000_000
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; more is a decoding bomb, not a page
DOCX_PART_BYTES = 30 * MB
DOCX_TOTAL_BYTES = 60 * MB
DOCX_MAX_RATIO = 200  # unpacked / packed, per part: XML packs 5-20x, a bomb 1,000x
PDF_MAX_PAGES = 300
CHUNK = 1 << 20

KINDS = {  # kind -> (media type, file extension)
    "pdf": ("application/pdf", "pdf"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
}
CLAIMS = {"pdf": "pdf", "docx": "docx", "jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}
# A PDF's active content: JavaScript, launching programs, embedded files, forms that run scripts. Names may be
# written with #xx escapes (/J#61vaScript), undone before looking.
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|SubmitForm|ImportData)\b")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


@dataclass(frozen=True, slots=True)
class Inspected:
    kind: str
    media_type: str
    extension: str


def _refuse(code: str, message: str) -> Problem:
    return Problem(422, code, message, field="file")


def sniff(data: bytes) -> str | None:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx"  # a zip: checked below to be a Word document
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def inspect(data: bytes, filename: str) -> Inspected:
    """The upload's kind, or a Problem (422) saying what is wrong with it."""
    if not data:
        raise _refuse("empty_file", "The file is empty. Choose the file again.")
    kind = sniff(data)
    if kind is None:
        raise _refuse("unsupported_file", "This file is not a PDF, a Word .docx or a photo (JPEG, PNG, WebP). Save "
                      "your reflection in one of those and upload it again.")
    claimed = CLAIMS.get(filename.rpartition(".")[2].lower()) if "." in filename else None
    if claimed is not None and claimed != kind and not {claimed, kind} <= {"jpeg", "png", "webp"}:
        raise _refuse("file_type_mismatch", "The file's name does not match what it contains (for example a .pdf "
                      "that is not a PDF). Save it again in its real format and upload that.")
    if kind == "pdf":
        _check_pdf(data)
    elif kind == "docx":
        _check_docx(data)
    else:
        _check_image(data)
    media_type, extension = KINDS[kind]
    return Inspected(kind, media_type, extension)


def _check_pdf(data: bytes) -> None:
    plain = _PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)
    if _PDF_ACTIVE.search(plain):
        raise _refuse("pdf_active_content", "This PDF contains scripts, attachments or actions, which are not "
                      "accepted. Print it again to a plain PDF (Print, then Save as PDF) and upload that.")
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise _refuse("damaged_file", "This PDF cannot be opened (damaged or password-protected). Save it again "
                      "and upload it.") from None
    try:
        pages = len(document)
    finally:
        document.close()
    if not 1 <= pages <= PDF_MAX_PAGES:
        raise _refuse("too_many_pages", "This PDF has no pages or more than 300 pages: upload your reflection alone.")
    if re.search(rb"/ObjStm\b", data) and _compressed_active(data):
        raise _refuse("pdf_active_content", "This PDF contains scripts, attachments or actions, which are not "
                      "accepted. Print it again to a plain PDF (Print, then Save as PDF) and upload that.")


def _compressed_active(data: bytes) -> bool:
    """Active content hidden in compressed object streams: each Flate stream unpacked (within a budget) and looked
    at like the rest of the file."""
    budget = 50 * MB
    for match in re.finditer(rb"stream\r?\n", data):
        start = match.end()
        end = data.find(b"endstream", start)
        if end < 0:
            break
        decoder = zlib.decompressobj()
        try:
            chunk = decoder.decompress(data[start:end], budget)
        except zlib.error:
            continue
        budget -= len(chunk)
        if _PDF_ACTIVE.search(_PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)):
            return True
        if budget <= 0:
            raise _refuse("file_too_complex", "This PDF unpacks to far more than a reflection needs. Print it again "
                          "to a plain PDF and upload that.")
    return False


def _check_docx(data: bytes) -> None:
    damaged = _refuse("damaged_file", "This file looks like a damaged Word document. Open it in Word, save it again "
                      "as .docx and upload that.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        raise damaged from None
    with archive:
        names = {i.filename for i in infos}
        if any(i.flag_bits & 0x1 for i in infos):
            raise _refuse("encrypted_file", "This document is password-protected. Remove the password, save it again "
                          "and upload it.")
        if "[Content_Types].xml" not in names or "word/document.xml" not in names:
            raise _refuse("unsupported_file", "This zip file is not a Word .docx document. Upload your reflection as a "
                          "PDF, a .docx or a photo.")
        try:
            types = archive.read("[Content_Types].xml") if archive.getinfo("[Content_Types].xml").file_size < MB else b""
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
            raise damaged from None
        if (b"macroEnabled" in types or any(n.lower().endswith("vbaproject.bin") for n in names)
                or any(n.startswith(("word/activeX/", "word/embeddings/")) for n in names)):
            raise _refuse("docx_macros", "This document contains macros or embedded programs, which are not accepted. "
                          "Save it in Word as a plain \"Word Document (.docx)\" or as a PDF and upload that.")
        if b"wordprocessingml.document.main" not in types:
            raise _refuse("unsupported_file", "This zip file is not a Word .docx document. Upload your reflection as a "
                          "PDF, a .docx or a photo.")
        # The sizes the zip declares, then what really comes out (a bomb may lie about the first).
        bomb = _refuse("file_too_large_unpacked", "This document unpacks to far more than a reflection needs (it may "
                       "be a zip bomb). Save it again as a plain .docx or a PDF and upload that.")
        if sum(i.file_size for i in infos) > DOCX_TOTAL_BYTES or any(i.file_size > DOCX_PART_BYTES for i in infos):
            raise bomb
        total = 0
        for info in infos:
            read = 0
            try:
                with archive.open(info) as part:
                    while chunk := part.read(CHUNK):
                        read += len(chunk)
                        total += len(chunk)
                        if (read > DOCX_PART_BYTES or total > DOCX_TOTAL_BYTES
                                or read > DOCX_MAX_RATIO * max(info.compress_size, 1) + MB):
                            raise bomb
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
                raise damaged from None


def _check_image(data: bytes) -> None:
    from PIL import Image

    damaged = _refuse("damaged_file", "This photo cannot be opened. Take it again or save it as JPEG and upload it.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise _bomb()
                image.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb() from None
        except Problem:
            raise
        except Exception:  # Pillow raises many kinds for a broken file
            raise damaged from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _bomb() -> Problem:
    return _refuse("image_too_large", "This photo has more than 40 megapixels (it may be a decoding bomb). Take it "
                   "again at a normal size and upload it.")


def docx_text(data: bytes, limit: int = 200_000) -> str:
    """The paragraphs of a checked .docx as plain text (for the one-PDF bundle)."""
    from xml.etree import ElementTree

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("word/document.xml")
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    root = ElementTree.fromstring(xml)  # noqa: S314 (a checked docx: no DTD is accepted by ElementTree's expat)
    paragraphs = ["".join(t.text or "" for t in p.iter(f"{ns}t")) for p in root.iter(f"{ns}p")]
    return "\n".join(paragraphs)[:limit]
