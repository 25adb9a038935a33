"""Hostile files for the ingest limits, built cheaply (small on disk, written by hand, streamed so that building a
bomb never holds its inflated size in memory), and converter hooks run inside the conversion child."""
from __future__ import annotations

import io
import zipfile

_CT = {
    "docx": ("word/document.xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
             "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
             "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"),
}
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def _package(z: zipfile.ZipFile, kind: str, extra_types: str = "") -> None:
    main, ctype, rel = _CT[kind]
    z.writestr("[Content_Types].xml",
               '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
               'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
               'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
               f'<Override PartName="/{main}" ContentType="{ctype}"/>{extra_types}</Types>')
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
               f'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}" '
               f'Target="{main}"/></Relationships>')


def _stream(z: zipfile.ZipFile, name: str, head: bytes, unit: bytes, repeat: int, tail: bytes) -> None:
    """One member written as head + unit * repeat + tail, in blocks (the inflated size is never in memory)."""
    block = unit * max(1, (1 << 20) // len(unit))
    per = len(block) // len(unit)
    with z.open(name, "w", force_zip64=True) as f:
        f.write(head)
        left = repeat
        while left >= per:
            f.write(block)
            left -= per
        f.write(unit * left)
        f.write(tail)


def docx_bomb(inflated_mb: int) -> bytes:
    """A real Word document whose body is `inflated_mb` MB of identical paragraphs (deflates several hundredfold)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        _package(z, "docx")
        unit = "<w:p><w:r><w:t>ごみの出し方</w:t></w:r></w:p>".encode()
        _stream(z, "word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>'.encode(),
                unit, inflated_mb * (1 << 20) // len(unit), b"</w:body></w:document>")
    return b.getvalue()


def zeros_docx(inflated_mb: int) -> bytes:
    """A small valid Word document carrying one extra member of `inflated_mb` MB of zeros (ratio about 1000:1)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        _package(z, "docx")
        z.writestr("word/document.xml", f'<w:document {_W}><w:body><w:p><w:r><w:t>本文</w:t></w:r></w:p>'
                   '</w:body></w:document>')
        _stream(z, "word/media/image1.bin", b"", b"\0", inflated_mb << 20, b"")
    return b.getvalue()


def xlsx_rows(rows: int, *, broken_after: int | None = None) -> bytes:
    """A workbook with one sheet ("名簿") of `rows` rows (number, inline string), the sheet XML written by hand.
    `broken_after`: the sheet XML is cut off (malformed) after that many rows — a reader that stops at its row cap
    before that point never notices, a reader that loads the whole sheet fails."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        _package(z, "xlsx", '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
                            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {_S} {_R}><sheets>'
                   '<sheet name="名簿" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_S}><dimension ref="A1:B{rows}"/>'
                    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>番号</t></is></c><c r="B1" t="inlineStr">'
                    '<is><t>氏名</t></is></c></row>'.encode())
            last = rows if broken_after is None else min(rows, broken_after)
            buf = []
            for i in range(2, last + 1):
                buf.append(f'<row r="{i}"><c r="A{i}"><v>{i - 1}</v></c><c r="B{i}" t="inlineStr"><is><t>職員{i - 1}'
                           '</t></is></c></row>')
                if len(buf) >= 10000:
                    f.write("".join(buf).encode())
                    buf = []
            f.write("".join(buf).encode())
            f.write(b'<row r="x"><c r=' if broken_after is not None else b"</sheetData></worksheet>")
    return b.getvalue()


def many_pages_pdf(pages: int) -> bytes:
    """A valid PDF of `pages` pages that all show the same one line of text (one shared content stream)."""
    text = b"BT /F1 12 Tf 50 780 Td (Page text for the limits test.) Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text)]
    kids = []
    for i in range(pages):
        kids.append(b"%d 0 R" % (5 + i))
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                    b"/Contents 4 0 R >>")
    objs[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def zip_with(members: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, body in members.items():
            z.writestr(zipfile.ZipInfo(name), body, compress_type=method)
    return b.getvalue()


# ------------------------------------------------------------------ converter hooks (run in the conversion child)

def hog(data: bytes, name: str) -> str:
    """Allocates until the memory limit stops it (gives up at 3 GiB, so that a missing limit fails the test
    instead of exhausting the machine)."""
    held = []
    for _ in range(3 * 1024 // 64):
        held.append(bytearray(64 << 20))
    return "limit missing: allocated 3 GiB"


def spin(data: bytes, name: str) -> str:
    """Never finishes (the wall-clock timeout must end it)."""
    import time
    while True:
        time.sleep(0.05)


def die(data: bytes, name: str) -> str:
    """The child is killed outright (as by the kernel's OOM killer)."""
    import os
    import signal
    os.kill(os.getpid(), signal.SIGKILL)
    return ""
