"""What isolating document conversion costs: the same documents converted in this process (the baseline, what
ingest did before hostile files were bounded) and through `core.search.ingest.to_markdown` (zip inspection, a
child forked from the warm converter process under memory/CPU/time limits), in the same run.

    .venv/bin/python bench/ingest_isolation.py [--docs 20] [--rounds 3]

Prints documents per second for each kind (.docx, .xlsx, .pdf) and the parent's peak RSS."""
from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.search import extract  # noqa: E402
from core.search.ingest import to_markdown  # noqa: E402


def docx_bytes(i: int) -> bytes:
    import docx

    d = docx.Document()
    d.add_heading(f"規程 第{i}号", 1)
    for j in range(30):
        d.add_paragraph(f"第{j}条 この規程は、職員の勤務条件に関し必要な事項を定めるものとする。" * 3)
    b = io.BytesIO()
    d.save(b)
    return b.getvalue()


def xlsx_bytes(i: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["品目", "分別", "出し方"])
    for j in range(300):
        ws.append([f"品目{i}-{j}", "燃やすごみ", "指定袋に入れて出してください"])
    b = io.BytesIO()
    wb.save(b)
    return b.getvalue()


def pdf_bytes(i: int) -> bytes:
    pages = 10
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join(f"{3 + 2 * p} 0 R".encode() for p in range(pages))
            + f"] /Count {pages} >>".encode()]
    for p in range(pages):
        text = f"BT /F1 12 Tf 72 720 Td (Document {i} page {p} travel expenses within one month) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * p} 0 R "
                    f"/Resources << /Font << /F1 {3 + 2 * pages} 0 R >> >> >>".encode())
        objs.append(b"<< /Length " + str(len(text)).encode() + b" >>\nstream\n" + text + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for n, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def rate(fn, files: list[tuple[bytes, str]]) -> float:
    start = time.perf_counter()
    for data, name in files:
        fn(data, name)
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    limits = extract.Limits()
    kinds = {".docx": docx_bytes, ".xlsx": xlsx_bytes, ".pdf": pdf_bytes}
    to_markdown(docx_bytes(0), "warm.docx")                      # start the converter process once
    extract.convert(docx_bytes(0), "warm.docx", ".docx", limits)  # and import the converters here too
    print(f"{'kind':6} {'in-process docs/s':>18} {'isolated docs/s':>16} {'ratio':>6}")
    for ext, make in kinds.items():
        files = [(make(i), f"doc{i}{ext}") for i in range(args.docs)]
        base, iso = [], []
        for _ in range(args.rounds):                             # interleaved: both see the same machine load
            base.append(rate(lambda d, n, e=ext: extract.convert(d, n, e, limits), files))
            iso.append(rate(lambda d, n: to_markdown(d, n), files))
        b, i = statistics.median(base), statistics.median(iso)
        print(f"{ext:6} {b:18.1f} {i:16.1f} {i / b:6.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"parent peak RSS {peak:.0f} MB (includes the in-process baseline's converters)")
    extract.shutdown()


if __name__ == "__main__":
    main()
