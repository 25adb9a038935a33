"""The Excel/CSV reader runs in a child process under a memory ceiling (ANALYSIS_LOAD_MEMORY_MB) and a time limit, by
core.search.extract's isolated runner, as document ingest does: a workbook whose shared strings inflate far beyond
the ceiling (while passing the zip checks) is refused with a Japanese message and the bot's own peak memory does not
move; a 1,000,000-row sheet is read up to the row cap with a note; the skill goes on working afterwards."""
from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import pytest

from core import router
from core.search.extract import Limits, inspect_zip
from core.skills import FileAttachment
from tests.core.search import hostile
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings
from tests.skills.analysis.test_analysis_skill import card_text

PARENT_CEILING_MB = 150     # the bot's peak RSS may not grow more than this while a hostile file is read


def _peak_mb() -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


@pytest.fixture
def parent_peak():
    """Resets the peak RSS (VmHWM) where Linux allows it; yields a function giving the growth since."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux)")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = _peak_mb()
    return lambda: _peak_mb() - before


def shared_strings_bomb(inflated_mb: int) -> bytes:
    """A valid workbook whose one cell refers to a shared string of `inflated_mb` MB: low-entropy text (mostly "A")
    that deflates about 50:1 — under the zip checks' ratio cap (100) and total cap (200 MB), so only reading it
    shows what it costs. Streamed: building it never holds the inflated size."""
    rng = random.Random(5)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        hostile._package(z, "xlsx", '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
                                    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override '
                                    'PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                                    'officedocument.spreadsheetml.sharedStrings+xml"/>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {hostile._S} {hostile._R}>'
                   '<sheets><sheet name="集計" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship '
                   'Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"'
                   ' Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0" encoding="UTF-8"?><worksheet {hostile._S}>'
                   '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>区</t></is></c><c r="B1" t="inlineStr">'
                   '<is><t>備考</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>中央</t></is></c>'
                   '<c r="B2" t="s"><v>0</v></c></row></sheetData></worksheet>')
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><sst {hostile._S} count="1" uniqueCount="1"><si><t>'
                    .encode())
            for _ in range(inflated_mb):
                chunk = bytearray(b"A" * (1 << 20))
                for i in rng.sample(range(1 << 20), 1 << 13):
                    chunk[i] = 66
                f.write(chunk)
            f.write(b"</t></si></sst>")
    return b.getvalue()


def services_with(db, tmp_path, **kw):
    services = make_services(db)
    services.settings.put(analysis_settings(tmp_path, **kw))
    OPENED.append(services)
    return services


async def send(services, name: str, data: bytes) -> RecorderPort:
    port = RecorderPort()
    atts = [FileAttachment(name=name, content_type="application/octet-stream", content=data)]
    await router.dispatch(make_request("分析して", attachments=atts), port, services)
    return port


async def test_a_workbook_inflating_past_the_ceiling_is_refused_in_the_child(lite_db, tmp_path, parent_peak):
    bomb = shared_strings_bomb(180)
    assert len(bomb) < 8 << 20
    inspect_zip(bomb, "xlsx", Limits())                   # the zip checks let it through: only reading it tells
    services = services_with(lite_db, tmp_path, ANALYSIS_LOAD_MEMORY_MB=768)
    port = await send(services, "集計表.xlsx", bomb)
    assert port.texts()[-1] == ("「集計表.xlsx」は読み込みに必要なメモリが上限（768MB）を超えたため、分析できませんでした。"
                                "行や列・シートを減らしたファイルでお試しください。")
    assert not port.cards()
    assert parent_peak() < PARENT_CEILING_MB              # the bot's own memory never saw the inflated text
    assert not any((tmp_path / "analysis").iterdir())      # nothing left behind
    port = await send(services, "eltax.csv", samples.eltax_csv())           # and the skill goes on
    assert port.cards() and "申告区分" in card_text(port.cards()[-1])


async def test_a_million_row_sheet_is_read_up_to_the_row_cap_with_a_note(lite_db, tmp_path, parent_peak):
    sheet = hostile.xlsx_rows(1_000_000)
    services = services_with(lite_db, tmp_path, ANALYSIS_MAX_EXCEL_ROWS=50_000)
    port = await send(services, "名簿.xlsx", sheet)
    card = port.cards()[-1]
    text = card_text(card)
    assert "ブック全体の行数の上限に達したため、このシートは途中までです。" in text
    facts = {f["title"]: f["value"] for n in card["body"] if n.get("type") == "FactSet" for f in n["facts"]}
    assert facts["行数"] == "49,999行"                    # the header row counts towards the cap
    assert parent_peak() < PARENT_CEILING_MB


async def test_the_time_limit_stops_a_slow_read(lite_db, tmp_path):
    # every row of a 1,000,000-row sheet (openpyxl reads some 100,000 rows a second at best) in 5 seconds at most
    services = services_with(lite_db, tmp_path, ANALYSIS_LOAD_SECONDS=1,           # the floor is 5 seconds
                             ANALYSIS_MAX_EXCEL_ROWS=1_000_000)
    port = await send(services, "名簿.xlsx", hostile.xlsx_rows(1_000_000))
    assert port.texts()[-1] == ("「名簿.xlsx」は読み込みが制限時間（5秒）内に終わらなかったため、分析できませんでした。"
                                "行や列・シートを減らしたファイルでお試しください。")
