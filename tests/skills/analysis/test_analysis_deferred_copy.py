"""The reading child answers with the profile first and writes the Parquet copy after (skills.analysis.isolated): a
question right after the profile waits for the copy and is answered from it; a child killed during the copy leaves
the received file in the dataset's folder, and the next question reads it again and is answered; a dataset with
neither the copy nor the received file says so in Japanese."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core.search.extract import ROOT, Limits, run_isolated
from skills.analysis import isolated, store
from skills.analysis.loader import LoadLimits
from skills.analysis.settings import settings_of
from tests.harness import make_request
from tests.skills.analysis import samples
from tests.skills.analysis.test_analysis_skill import offline, run, table_rows

LIMITS = LoadLimits(threads=1)


def _ward_counts() -> dict[str, int]:
    expected: dict[str, int] = {}
    for r in samples.survey_rows()[1:]:
        expected[r[2]] = expected.get(r[2], 0) + 1
    return expected


def _counts(port) -> dict[str, int]:
    rows = table_rows(port.cards()[-1])
    assert rows[0][:2] == ["区", "件数"]
    return {r[0]: int(r[1].replace(",", "")) for r in rows[1:]}


def test_work_left_for_after_the_answer_is_not_waited_for_and_keeps_the_deadline(tmp_path):
    call = "tests.skills.analysis.late:answer_then_work"
    run_isolated(call, b"", {"path": str(tmp_path / "warm"), "sleep": 0}, Limits(timeout_seconds=30))  # warm
    t = time.monotonic()
    run_isolated(call, b"", {"path": str(tmp_path / "later"), "sleep": 6}, Limits(timeout_seconds=30))
    run_isolated(call, b"", {"path": str(tmp_path / "too-late"), "sleep": 6}, Limits(timeout_seconds=3))
    assert time.monotonic() - t < 6                          # both answers came before their work was done
    assert not (tmp_path / "later").exists()
    deadline = time.monotonic() + 30
    while not (tmp_path / "later").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "later").exists()                     # the work ran in the child after its answer
    assert not (tmp_path / "too-late").exists()              # killed at the child's deadline (3 s from its start)


def test_the_child_answers_before_the_copy_and_a_waiter_sees_it_whole(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    out = isolated.load_in_child(samples.big_csv(200_000), "log.csv", folder, LIMITS, memory_mb=1536, seconds=120,
                                 file_mb=256)
    table = isolated.tables_of(out)[0]
    assert out["profiles"][0]["rows"] == 200_000
    assert store.wait_copy(folder, 60)                       # the child's lock is free: the copy is done or it died
    assert (folder / table.file).is_file() and not (folder / isolated.SOURCE).exists()
    assert not list(folder.glob("*.part"))
    done = json.loads((folder / isolated.DONE).read_text())
    assert done["cpu"] >= out["cpu"] and done["peak_rss_mb"] >= out["peak_rss_mb"]


def test_the_copy_lock_is_waited_for_and_dropped_with_its_holder(tmp_path):
    held = store.hold_copy_lock(tmp_path)
    try:
        t = time.monotonic()
        assert not store.wait_copy(tmp_path, 0.2)
        assert time.monotonic() - t >= 0.2
    finally:
        held.close()
    assert store.wait_copy(tmp_path, 0.2)
    assert store.wait_copy(tmp_path / "no-such-folder", 0.2)   # no lock file: nothing to wait for


async def test_a_question_right_after_the_profile_is_answered(lite_db, tmp_path, caplog):
    services = offline(lite_db, tmp_path)
    port = await run(services, "分析して", files=[("survey.csv", samples.survey_csv())])
    assert "自動集計しました" in port.sent[-1].text
    port = await run(services, "/analyze 集計 区")       # no pause: the engine waits for the copy if it is not done
    assert _counts(port) == _ward_counts()
    assert "reading the received file again" not in caplog.text   # answered from the child's own copy


# The reading child's code as run_isolated runs it, in a process of its own, with the copy dying half-way: the first
# table's file is half written (under its temporary name) when the process is killed (SIGKILL, as the kernel's OOM
# killer or the wall-clock limit would).
_DIES_IN_THE_COPY = """
import json, os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from core.search import extract
from skills.analysis import isolated
folder = Path(sys.argv[1])
def dying(con, loaded, folder):
    t = loaded.tables[0]
    con.execute(f"COPY {{t.name}} TO '{{folder / (t.file + '.part')}}' (FORMAT parquet)")
    os.kill(os.getpid(), signal.SIGKILL)
isolated.save_tables = dying
out = isolated.read_file(b"", {{"folder": str(folder), "name": "survey.csv", "limits": {{"threads": 1}}}})
Path(sys.argv[2]).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
for work in extract._after:
    work()
"""


async def _dataset_whose_copy_died(services, settings) -> store.Dataset:
    ds_id = store.new_id()
    folder = store.folder_of(settings.ANALYSIS_DATA_DIR, ds_id)
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / isolated.SOURCE).write_bytes(samples.survey_csv())
    answer = folder.parent / f"{ds_id}.answer.json"
    proc = subprocess.run([sys.executable, "-c", _DIES_IN_THE_COPY.format(root=str(ROOT)), str(folder), str(answer)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == -9, proc.stderr[-2000:]        # killed during the copy, after it had answered
    out = json.loads(answer.read_text(encoding="utf-8"))
    tables = isolated.tables_of(out)
    assert (folder / (tables[0].file + ".part")).exists() and not (folder / tables[0].file).exists()
    assert (folder / isolated.SOURCE).exists()               # kept: the copy was not in place
    ds = store.Dataset(id=ds_id, folder=folder, filename="survey.csv", user_id=make_request().user_id,
                       tables=tables, profiles=out["profiles"], personal=out["personal"], notes=out["notes"])
    store.save(ds)
    req = make_request()
    await store.set_current(services, req.conversation_id, req.user_id, ds_id, settings.ANALYSIS_KEEP_HOURS)
    return ds


async def test_a_child_killed_during_the_copy_leaves_the_file_read_again_on_the_next_question(lite_db, tmp_path,
                                                                                               caplog):
    services = offline(lite_db, tmp_path)
    settings = settings_of(services)
    ds = await _dataset_whose_copy_died(services, settings)
    port = await run(services, "/analyze 集計 区")       # the lock died with the child: the file is read again
    assert _counts(port) == _ward_counts()
    assert "reading the received file again" in caplog.text
    assert (ds.folder / ds.tables[0].file).is_file() and not (ds.folder / isolated.SOURCE).exists()


async def test_a_dataset_with_neither_copy_nor_file_asks_for_the_file_again(lite_db, tmp_path):
    services = offline(lite_db, tmp_path)
    settings = settings_of(services)
    ds = await _dataset_whose_copy_died(services, settings)
    os.unlink(ds.folder / isolated.SOURCE)
    port = await run(services, "/analyze 集計 区")
    assert port.texts()[-1] == "このファイルのデータが見つかりませんでした。もう一度ファイルを送ってください。"
    assert not Path(ds.folder / ds.tables[0].file).exists()
