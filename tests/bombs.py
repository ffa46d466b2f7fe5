"""Hostile files, built here: small on disk, big once unpacked. Used by the tests and by bench/hostile.py.

A workbook is written part by part through zipfile's streaming writer, so a 240 MB sheet never sits in memory;
deflate packs a repeated block about 1,000 to 1."""

from __future__ import annotations

import io
import zipfile
import zlib

from PIL import Image

MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
TYPES = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
         b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
         b'+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
         b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
RELS = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
HEADER_ROW = ('<row><c t="inlineStr"><is><t>Họ và tên</t></is></c><c t="inlineStr"><is><t>Đơn vị</t></is></c></row>'
              .encode())
PERSON_ROW = ('<row><c t="inlineStr"><is><t>Nguyễn Thị Hương</t></is></c><c t="inlineStr"><is><t>Sở Y tế</t></is>'
              '</c></row>').encode()


def _workbook(sheets: int) -> bytes:
    entries = "".join(f'<sheet name="Sheet{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, sheets + 1))
    return ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            f"{entries}</sheets></workbook>").encode()


def _workbook_rels(sheets: int) -> bytes:
    base = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    entries = "".join(f'<Relationship Id="rId{i}" Type="{base}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, sheets + 1))
    entries += f'<Relationship Id="rId{sheets + 1}" Type="{base}/sharedStrings" Target="sharedStrings.xml"/>'
    return ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships">{entries}</Relationships>').encode()


def _stream(archive: zipfile.ZipFile, name: str, head: bytes, block: bytes, repeat: int, tail: bytes) -> None:
    with archive.open(name, "w", force_zip64=True) as part:
        part.write(head)
        per_batch = max(1, (1 << 20) // max(1, len(block)))
        for start in range(0, repeat if block else 0, per_batch):
            part.write(block * min(per_batch, repeat - start))
        part.write(tail)


def prefixed(xml: bytes, prefix: str) -> bytes:
    """`xml` with every element name in the namespace prefix `prefix` ("x:")."""
    p = prefix.encode()
    return xml.replace(b"</", b"\0").replace(b"<", b"<" + p).replace(b"\0", b"</" + p)


def workbook(*, strings: tuple[bytes, int] = (b"", 0), sheets: list[tuple[bytes, int]] | None = None,
             prefix: str = "") -> bytes:
    """An .xlsx: a table of texts of `strings` = (block, times), and one sheet per (block, times) in `sheets`,
    each a header row and a person, then the block repeated. `prefix` ("x:") names the spreadsheet namespace
    with a prefix, as some writers do. No <dimension>: nothing says how big a sheet is before it is read."""
    sheets = sheets if sheets is not None else [(b"", 0)]
    p = prefix.encode()
    ns = MAIN.replace(b"xmlns=", b"xmlns:" + p[:-1] + b"=") if p else MAIN
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", _workbook(len(sheets)))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        block, times = strings
        _stream(archive, "xl/sharedStrings.xml", b'<?xml version="1.0" encoding="UTF-8"?><' + p + b"sst " + ns + b">",
                block, times, b"</" + p + b"sst>")
        for i, (block, times) in enumerate(sheets, start=1):
            head = (b'<?xml version="1.0" encoding="UTF-8"?><' + p + b"worksheet " + ns + b"><" + p + b"sheetData>"
                    + prefixed(HEADER_ROW + PERSON_ROW, prefix))
            _stream(archive, f"xl/worksheets/sheet{i}.xml", head, block, times,
                    b"</" + p + b"sheetData></" + p + b"worksheet>")
    return buffer.getvalue()


def shared_strings_bomb(unpacked: int = 240_000_000) -> bytes:
    """The workbook of the report: its table of texts unpacks to `unpacked` bytes (584 kB on disk for 240 MB)."""
    text = b"<si><t>Nguyen Thi Huong, Doan Thanh nien So Tai chinh</t></si>"
    return workbook(strings=(text, unpacked // len(text)))


def sheet_bomb(unpacked: int = 240_000_000) -> bytes:
    """A sheet without <dimension> that unpacks to `unpacked` bytes of empty rows."""
    return workbook(sheets=[(b"<row/>", unpacked // 6)])


def image_header(kind: str, width: int, height: int) -> bytes:
    """A small PNG or JPEG whose header declares `width` x `height`: what a decoding bomb looks like before it is
    decoded (a real one adds a few kB of pixels that unpack to gigabytes)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG" if kind == "png" else "JPEG")
    data = bytearray(buffer.getvalue())
    if kind == "png":  # IHDR: width and height right after the chunk type, then the chunk's CRC
        data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
        data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    else:  # SOF0: ff c0, length, precision, then height and width
        at = data.index(b"\xff\xc0")
        data[at + 5:at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)
