"""Reflection uploads for the tests and bench/completion.py: real small files of each accepted kind, and the
hostile ones (a docx zip bomb, a photo decoding bomb, a PDF with JavaScript, a docx with macros)."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from checkin.documents.pdf import FONT_FAMILY, new_document

from .bombs import image_header

DOCX_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
              b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
              b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
              b'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.'
              b'main+xml"/></Types>')
DOCX_RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
             b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
             b'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def pdf(text: str = "Bài thu hoạch: học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh.", pages: int = 1) -> bytes:
    doc = new_document()
    for page in range(pages):
        doc.add_page()
        doc.set_font(FONT_FAMILY, "", 12)
        doc.set_xy(20, 20)
        doc.multi_cell(170, 6, f"{text} ({page + 1})")
    return bytes(doc.output())


def docx(text: str = "Bài thu hoạch của tôi", *, macros: bool = False) -> bytes:
    body = f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>{text}</w:t>' \
           f"</w:r></w:p></w:body></w:document>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        types = DOCX_TYPES.replace(b"document.main+xml", b"document.macroEnabled.main+xml") if macros else DOCX_TYPES
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", DOCX_RELS)
        archive.writestr("word/document.xml", body.encode())
        if macros:
            archive.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 500)
    return out.getvalue()


def docx_bomb(unpacked: int = 300_000_000) -> bytes:
    """A .docx whose document part unpacks to `unpacked` bytes of spaces (about 1,000 to 1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("_rels/.rels", DOCX_RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<w:document xmlns:w="{W}"><w:body><w:p><w:r><w:t>'.encode())
            block = b" " * (1 << 20)
            for _ in range(unpacked // len(block)):
                part.write(block)
            part.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def photo(kind: str = "JPEG") -> bytes:
    image = Image.new("RGB", (600, 800), "white")
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def photo_bomb() -> bytes:
    return image_header("png", 60_000, 60_000)


def pdf_with_script() -> bytes:
    data = pdf()
    return data.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>", 1)
