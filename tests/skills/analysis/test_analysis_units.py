"""Pure parts of the データ分析 skill: Japanese numbers and dates (the SQL rules and their Python twins agree), header
detection, the engine's refusal of anything but a read query, and formula-injection escaping in the Excel report."""
from __future__ import annotations

import io
from datetime import date

import duckdb
import pytest
from openpyxl import load_workbook

from skills.analysis import japanese as jp
from skills.analysis.engine import Engine, QueryFailed, QueryRefused, check_sql
from skills.analysis.loader import LoadError, LoadLimits, detect_encoding, load, save_tables
from skills.analysis.report import build_report, safe
from tests.skills.analysis import samples

NUMBERS = [("1,234", 1234.0), ("１，２３４", 1234.0), ("△1,234", -1234.0), ("▲５００", -500.0), ("-12.5", -12.5),
           ("3,000円", 3000.0), ("12.5%", 12.5), ("  42 ", 42.0), ("1,23", None), ("約100", None), ("不明", None),
           ("", None), ("nan", None)]
DATES = [("令和7年4月1日", date(2025, 4, 1)), ("令和元年5月1日", date(2019, 5, 1)), ("R7.4.1", date(2025, 4, 1)),
         ("H31.4.30", date(2019, 4, 30)), ("平成31年4月30日", date(2019, 4, 30)), ("2025/4/1", date(2025, 4, 1)),
         ("2025-04-01", date(2025, 4, 1)), ("2025年4月1日", date(2025, 4, 1)), ("２０２５年４月１日", date(2025, 4, 1)),
         ("令和7年4月", date(2025, 4, 1)), ("昭和64年1月7日", date(1989, 1, 7)), ("令和7年2月30日", None),
         ("7.4.1", None), ("そのうち", None)]
FISCAL = [("令和6年度", 2024), ("R6年度", 2024), ("2024年度", 2024), ("平成30年度", 2018), ("令和元年度", 2019),
          ("令和6年", None)]


def one(expr: str):
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT {expr}").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("value,expected", NUMBERS)
def test_numbers_in_sql_and_python(value, expected):
    got = one(jp.number(jp.lit(value)))
    assert got == expected
    assert jp.py_number(value) == expected


@pytest.mark.parametrize("value,expected", DATES)
def test_dates_in_sql_and_python(value, expected):
    assert one(jp.date(jp.lit(value))) == expected
    assert jp.py_date(value) == expected


@pytest.mark.parametrize("value,expected", FISCAL)
def test_fiscal_years(value, expected):
    assert one(jp.fiscal_year(jp.lit(value))) == expected
    assert jp.py_fiscal_year(value) == expected


def test_markers_and_classification():
    assert all(jp.is_marker_value(m) for m in ("-", "－", "…", "x", "***"))
    assert jp.classify(["1,200", "△30", "-", "x", "2,000"]) == "number"
    assert jp.classify(["001", "002", "003"]) == "text"              # codes keep their zeros
    assert jp.classify(["令和6年度", "令和5年度", "不明"]) == "text"     # 2 of 3 is below the share
    assert jp.classify(["令和6年度", "令和5年度", "令和4年度", "令和3年度", "不明"]) == "fiscal_year"


def test_header_under_title_rows_and_two_row_header_in_csv():
    rows = [["区別人口"], ["単位：人"], [], ["区", "令和5年", "", "令和6年", ""], ["", "男", "女", "男", "女"],
            ["中央", "1", "2", "3", "4"], ["小田", "5", "6", "7", "8"]]
    h = jp.find_header(rows)
    assert (h.start, h.depth) == (3, 2)
    assert h.names == ["区", "令和5年・男", "令和5年・女", "令和6年・男", "令和6年・女"]
    plain = [["回答日", "年代", "ご意見"], ["令和7年4月1日", "20代", "待ち時間が長い"], ["令和7年4月2日", "30代", "丁寧"]]
    assert jp.find_header(plain) == jp.Header(0, 1, ["回答日", "年代", "ご意見"])
    assert jp.unique_names(["区", "区", "", " a  b "]) == ["区", "区_2", "列3", "a b"]


def test_encodings():
    text = "区,人口\n中央,100\n"
    assert detect_encoding(text.encode("cp932")) == "cp932"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    with pytest.raises(LoadError) as e:
        detect_encoding(b"a,b\n\x81")
    assert "文字コードを判別できませんでした" in e.value.message


def test_broken_and_disguised_excel_files_are_refused(tmp_path):
    with pytest.raises(LoadError) as e:
        load(b"PK\x03\x04 not really a zip", "a.xlsx", tmp_path / "x", LoadLimits(), lambda c, l: None)
    assert "Excel" in e.value.message
    with pytest.raises(LoadError) as e:
        load(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xlsx", tmp_path / "y", LoadLimits(),
             lambda c, l: None)
    assert ".xls" in e.value.message
    assert not any((tmp_path / "x").glob("*.parquet"))


@pytest.fixture
def survey(tmp_path):
    loaded, _, con = load(samples.survey_csv(), "s.csv", tmp_path, LoadLimits(threads=1), lambda c, l: None)
    save_tables(con, loaded, tmp_path)
    con.close()
    engine = Engine(LoadLimits(threads=1))
    yield engine, tmp_path, loaded.tables
    engine.close()


WRITES = ['WITH x AS (DELETE FROM "data" RETURNING *) SELECT * FROM x',
          'WITH x AS (INSERT INTO "data" SELECT * FROM "data" RETURNING *) SELECT count(*) FROM x',
          'DELETE FROM "data"', 'DROP TABLE "data"', 'UPDATE "data" SET "区" = NULL', 'CREATE TABLE y AS SELECT 1',
          "COPY data TO '/tmp/out.csv'", "ATTACH '/tmp/x.duckdb' AS x", "SET enable_external_access = true",
          "PRAGMA version", "INSTALL httpfs", "SELECT 1; DELETE FROM data", "SELECT * FROM query('SELECT 1')",
          "EXPLAIN SELECT 1", "CALL pragma_version()"]


@pytest.mark.parametrize("sql", WRITES)
def test_anything_but_one_read_query_is_refused(survey, sql):
    engine, folder, tables = survey
    with pytest.raises(QueryRefused):
        engine.run("s", folder, tables, sql, max_rows=10, timeout=5)
    assert engine.run("s", folder, tables, 'SELECT count(*) FROM "data"', max_rows=10, timeout=5).rows == [[60]]


def test_no_file_or_network_access_and_time_and_row_limits(survey):
    engine, folder, tables = survey
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_parquet('" + str(folder) + "/t0.parquet')",
                "SELECT * FROM read_text('https://example.com/')"):
        with pytest.raises(QueryFailed) as e:
            engine.run("s", folder, tables, sql, max_rows=10, timeout=5)
        assert "Permission" in e.value.detail or "disabled" in e.value.detail
    with pytest.raises(QueryFailed) as e:
        engine.run("s", folder, tables, "SELECT count(*) FROM range(100000000000) a", max_rows=10, timeout=0.5)
    assert e.value.timeout and "制限時間" in e.value.message
    res = engine.run("s", folder, tables, 'SELECT * FROM "data"', max_rows=7, timeout=5)
    assert len(res.rows) == 7 and res.total == 60


def test_check_sql_accepts_reads():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    for sql in ("SELECT a FROM t", "with x as (select a from t) select * from x;", "FROM t", "```sql\nSELECT 1\n```",
                "SELECT a, lag(a) OVER (ORDER BY a) FROM t UNION ALL SELECT 2, 3"):
        assert check_sql(con, sql)


INJECTIONS = ["=HYPERLINK(\"http://evil.example/\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1",
              "＝1+1", " =cmd|' /C calc'!A0"]


def test_formula_injection_is_neutralised_in_the_excel_report():
    for v in INJECTIONS:
        assert safe(v) == "'" + v
    assert safe(-5) == -5 and safe(3.5) == 3.5 and safe("区") == "区" and safe(None) is None
    data = build_report(filename="=evil.csv", heading="@title", label="自動集計", question="+q",
                        columns=["=col", "件数"], rows=[[v, i] for i, v in enumerate(INJECTIONS)] + [["中央", -3]],
                        sql="-- SELECT 1", notes=["=note"],
                        profile={"columns": [{"name": "=x", "kind": "text", "filled": 1, "missing": 0,
                                              "top": [["=1+1", 1]]}]})
    wb = load_workbook(io.BytesIO(data))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.lstrip(" \u3000").startswith(("=", "+", "-", "@", "\t", "\r", "＝"))]
    res = wb["結果"]
    assert res.cell(2, 1).value == "'" + INJECTIONS[0] and res.cell(10, 2).value == -3


def test_shift_jis_found_after_an_ascii_start(tmp_path):
    head = "id,kind,amount\n" + "".join(f"{i},A,{i}\n" for i in range(40_000))        # > 256 KB of ASCII
    tail = "".join(f"{40_000 + i},転入,{i}\n" for i in range(10))
    data = (head + tail).encode("cp932")
    assert len(head) > 256 * 1024
    loaded, kinds, con = load(data, "late.csv", tmp_path, LoadLimits(threads=1),
                              lambda c, l: c.execute('SELECT count(*) FROM "data" WHERE "kind" = \'転入\'').fetchone())
    con.close()
    assert kinds == (10,) and loaded.tables[0].rows == 40_010
    assert loaded.notes == ["文字コード: Shift_JIS"]


def _plain_rows(n: int) -> str:
    return "".join(f"{i},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i % 1000},{i % 7}.5,中央\n" for i in range(n))


def _read(tmp_path, data: bytes, monkeypatch):
    """The table read from a CSV and whether the Japanese conversion (`_typed_table`) was needed for it."""
    import skills.analysis.loader as loader_module

    calls: list[str] = []
    real = loader_module._typed_table

    def spy(*a, **k):
        calls.append(a[2])
        return real(*a, **k)
    monkeypatch.setattr(loader_module, "_typed_table", spy)
    loaded, rows, con = load(data, "log.csv", tmp_path, LoadLimits(threads=2), lambda c, l: c.execute(
        'SELECT sum("件数"), sum("率"), min("受付日"), max("受付日"), count(*) FROM "data"').fetchone())
    con.close()
    return loaded.tables[0], rows, calls


def test_plain_columns_are_typed_by_the_reader_and_japanese_values_past_the_sample_still_read(tmp_path,
                                                                                              monkeypatch):
    head = "受付,受付日,件数,率,区\n"
    plain, rows, calls = _read(tmp_path / "a", (head + _plain_rows(8000)).encode(), monkeypatch)
    assert calls == []                                   # every column plain: typed in the one read
    assert [c.kind for c in plain.columns] == ["integer", "date", "integer", "number", "text"]
    assert rows[4] == 8000 and rows[0] == sum(i % 1000 for i in range(8000))
    assert all(c.unreadable == 0 and c.markers == 0 for c in plain.columns)
    # past the 5,000 sampled rows: a 1,234, a △, a 記号, a 令和 date, an unreadable value and an infinite number
    tail = ('8000,令和7年4月1日,"1,234",1.5,小田\n8001,2025-04-02,△500,inf,小田\n8002,2025-04-03,-,2.5,小田\n'
            "8003,2025-04-04,不明,3.5,小田\n")
    mixed, rows, calls = _read(tmp_path / "b", (head + _plain_rows(8000) + tail).encode(), monkeypatch)
    assert calls == ["data"]                             # the whole table went the Japanese way, nothing dropped
    kinds = {c.name: c for c in mixed.columns}
    assert rows[4] == 8004 and rows[0] == sum(i % 1000 for i in range(8000)) + 1234 - 500
    assert rows[3] == date(2025, 4, 4) and rows[2] == date(2024, 1, 1)
    assert (kinds["件数"].kind, kinds["件数"].markers, kinds["件数"].unreadable) == ("integer", 1, 1)
    assert kinds["件数"].examples == ["不明"]
    assert (kinds["率"].kind, kinds["率"].unreadable, kinds["率"].examples) == ("number", 1, ["inf"])
    assert kinds["受付日"].kind == "date" and kinds["受付日"].unreadable == 0
    # an infinite number alone past the sample: the reader takes it, the check after the read sends the table back
    inf, rows, calls = _read(tmp_path / "c", (head + _plain_rows(8000) + "8000,2025-04-01,5,inf,小田\n").encode(),
                             monkeypatch)
    assert calls == ["data"] and rows[4] == 8001
    assert [(c.name, c.unreadable) for c in inf.columns if c.unreadable] == [("率", 1)]


def test_shift_jis_past_the_part_checked_in_python_is_found_by_the_reader(tmp_path):
    import skills.analysis.loader as loader_module

    head = "id,kind,amount\n" + "".join(f"{i},A,{i}\n" for i in range(110_000))
    assert len(head) > loader_module.UTF8_CHECKED
    for tail, encoding, note in (("".join(f"{110_000 + i},転入,{i}\n" for i in range(10)), "cp932", "Shift_JIS"),
                                 ("".join(f"{110_000 + i},転入,{i}\n" for i in range(10)), "utf-8", "UTF-8")):
        data = (head + tail).encode(encoding)
        folder = tmp_path / encoding
        folder.mkdir()
        (folder / "source.bin").write_bytes(data)
        loaded, kinds, con = load(data, "late.csv", folder, LoadLimits(threads=2), lambda c, l: c.execute(
            'SELECT count(*), min("amount"), max("id") FROM "data" WHERE "kind" = \'転入\'').fetchone(),
            stored=folder / "source.bin")
        con.close()
        assert kinds == (10, 0, "110009") and loaded.tables[0].rows == 110_010      # id: an identifier, text
        assert loaded.notes == [f"文字コード: {note}"] and loaded.tables[0].notes == []


def test_the_checks_after_a_plain_read_send_back_a_huge_integer_and_drop_empty_and_note_rows(tmp_path, monkeypatch):
    head = "受付,受付日,件数,率,区\n"
    # an integer past the sample beyond what a DOUBLE holds exactly: the reader takes it as BIGINT, the range check
    # (its min and max) sends the table the Japanese way
    for n, value in (("a", "12345678901234567"), ("b", "-12345678901234567")):
        huge, rows, calls = _read(tmp_path / n, (head + _plain_rows(8000) + f"8000,2025-04-01,{value},1.5,小田\n")
                                  .encode(), monkeypatch)
        assert calls == ["data"] and rows[4] == 8001
    # an empty row and a note row under a table whose first column is text: dropped, with the note, on the reader's
    # own path
    text_first = "区,受付日,件数,率,受付\n" + "".join(f"中央,2024-01-{i % 28 + 1:02d},{i % 1000},{i % 7}.5,{i}\n"
                                                   for i in range(8000))
    plain, rows, calls = _read(tmp_path / "c", (text_first + ",,,,\n注：件数は速報値です。,,,,\n").encode(),
                               monkeypatch)
    assert calls == [] and rows[4] == 8000 and plain.rows == 8000
    assert "空の行・表の下の注記の行（2行）を除きました。" in plain.notes
