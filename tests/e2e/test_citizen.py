"""End to end, the citizen page as a resident meets it: the real bot (`python -m bot`) serving /citizen with the
Web Chat bundle built from npm, the Direct Line stand-in (`python -m devtools.directline`, as `make run` starts it)
between the page and the bot, the public sample set registered as `make run` registers it, and Debian's Chromium
(playwright-core) on a phone-sized screen typing into the page (citizen_drive.mjs).

Offline: a Japanese question gets the search results with the city page linked. With the LLM stand-in
(tests/standins/openai_server.py): a Japanese question gets a Japanese answer and an English question an English
one, each citing the city page. Every run also checks the page in the browser: no request leaves loopback (no CDN),
no Content-Security-Policy violation, the send box is reached with the Tab key and fits the screen, and axe-core
finds no serious or critical accessibility violation.

Needs: node + `npm ci` (playwright-core, axe-core), `make citizen-assets` (build/citizen/webchat.js), Chromium
(/usr/bin/chromium or CHROMIUM_PATH). Skips when one is missing, except with E2E_REQUIRED=1 (CI)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.test_playground import CHROMIUM, REQUIRED, ROOT, Proc, _free_port, _wait_http_ok
from tests.standins.openai_server import OpenAIStandIn

pytestmark = pytest.mark.e2e

DRIVER = Path(__file__).with_name("citizen_drive.mjs")
SAMPLES = ROOT / "docs" / "samples-citizen"
PAGE_URL = "https://www.city.amagasaki.example/kurashi/gomi/dashikata.html"     # docs/samples-citizen/gomi.md
_SCRUB = re.compile(r"^(OPENAI_|AZURE_|MICROSOFTAPP|GRAPH_|KINTONE_|DATABASE_URL$|HOST$|PORT$|DIRECTLINE_|CITIZEN_|"
                    r"EMBEDDINGS_|LLM_)", re.I)


def _missing_prerequisite() -> str | None:
    if not shutil.which("node"):
        return "Node.js (node) is not installed"
    for package in ("playwright-core", "axe-core"):
        if not (ROOT / "node_modules" / package).is_dir():
            return f"node_modules/{package} is missing (run `npm ci` at the repository root)"
    if not (ROOT / "build" / "citizen" / "webchat.js").is_file():
        return "build/citizen/webchat.js is missing (run `make citizen-assets`)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    if not SAMPLES.is_dir():
        return "docs/samples-citizen does not exist yet"
    return None


class ThreadedStandIn:
    """A loopback stand-in server on its own event loop in a thread (the bot is another process)."""

    def __init__(self, server) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(server.start(), self.loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def _passage_numbers(user: str, needle: str) -> list[int]:
    """The numbers of the passages ([n] at the start of a block) whose text holds `needle`."""
    blocks = re.split(r"\n(?=\[\d+\] )", "\n" + user)
    return [int(m.group(1)) for b in blocks if (m := re.match(r"\[(\d+)\] ", b)) and needle in b]


def model(body: dict) -> dict:
    """The LLM stand-in's replies, as a model that follows the citizen prompts would answer about garbage days:
    search queries in Japanese, the passage about 燃やすごみ ranked first, and the answer in the language the
    prompt asks for, citing that passage."""
    system = body["messages"][0]["content"]
    user = body["messages"][-1]["content"]
    if '{"queries"' in system:
        return {"text": json.dumps({"queries": ["燃やすごみ 収集日", "家庭ごみの収集日"]}, ensure_ascii=False)}
    if '{"ranking"' in system:
        found = _passage_numbers(user, "燃やすごみ")
        return {"text": json.dumps({"ranking": found or [1]})}
    n = (_passage_numbers(user, "燃やすごみは週2回") or [0])[0]
    if not n:
        return {"text": "［回答不可］"}
    language = re.search(r"回答に使う言語: (.+)", user)
    if language and language.group(1).strip() == "English":
        return {"text": f"Burnable garbage is collected twice a week, on the days set for your district. "
                        f"Put it out by 8:30 a.m. [{n}]"}
    return {"text": f"燃やすごみの収集は週2回です。地区ごとに決められた曜日の朝8時30分までに出してください。[{n}]"}


@pytest.fixture
def citizen(tmp_path, request):
    """The bot, the Direct Line stand-in and the public sample set; `request.param` = "llm" adds the LLM stand-in."""
    missing = _missing_prerequisite()
    if missing:
        if REQUIRED:
            pytest.fail(f"E2E_REQUIRED=1 but {missing}")
        pytest.skip(missing)
    base_env = {k: v for k, v in os.environ.items() if not _SCRUB.match(k)}
    bot_port, dl_port = _free_port(), _free_port()
    secret = secrets.token_urlsafe(24)
    llm = None
    env = {**base_env, "HOST": "127.0.0.1", "PORT": str(bot_port), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/citizen.db", "LOG_FORMAT": "text",
           "DIRECTLINE_SECRET": secret, "DIRECTLINE_ENDPOINT": f"http://127.0.0.1:{dl_port}",
           "CITIZEN_ASSETS_DIR": str(ROOT / "build" / "citizen"), "BACKGROUND_JOBS": "false"}
    if getattr(request, "param", None) == "llm":
        llm = ThreadedStandIn(OpenAIStandIn(model))
        env.update({"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": llm.server.base_url})
    procs: list[Proc] = []
    try:
        # what `make run` does: register the fictional city pages as a public set
        ingest = subprocess.run([sys.executable, "-m", "bot", "ingest", "市民向け", str(SAMPLES),
                                 "--title", "市民向け（サンプル）", "--public"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=300)
        assert ingest.returncode == 0 and "追加 4 件" in ingest.stdout, ingest.stdout + ingest.stderr
        bot = Proc("bot", [sys.executable, "-m", "bot"], env=env, cwd=tmp_path)
        procs.append(bot)
        _wait_http_ok(f"http://127.0.0.1:{bot_port}/readyz", bot, timeout=90)
        directline = Proc("directline", [sys.executable, "-m", "devtools.directline", "--bot",
                                         f"http://127.0.0.1:{bot_port}/api/messages", "--port", str(dl_port)],
                          env=env, cwd=tmp_path)
        procs.append(directline)
        _wait_http_ok(f"http://127.0.0.1:{dl_port}/healthz", directline, timeout=30)
        yield {"url": f"http://127.0.0.1:{bot_port}/citizen", "bot": bot, "directline": directline, "llm": llm,
               "secret": secret}
    finally:
        for p in reversed(procs):
            p.stop()
        if llm is not None:
            llm.stop()


def _drive(stack, questions: list[str], shot: Path, *, viewport: str = "390x844") -> tuple[dict, str]:
    args = ["node", str(DRIVER), "--url", stack["url"], "--chromium", CHROMIUM, "--viewport", viewport,
            "--screenshot", str(shot), "--timeout", "60000"]
    for q in questions:
        args += ["--text", q]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    detail = (f"driver exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}\n"
              f"screenshot: {shot}\nbot log:\n{stack['bot'].output()}\ndirectline log:\n{stack['directline'].output()}")
    assert lines, detail
    result = json.loads(lines[-1])
    assert proc.returncode == 0 and result["ok"], detail
    return result, detail


def _check_page(result: dict, detail: str, stack) -> None:
    """What every visit must show: nothing fetched beyond loopback, no CSP violation, keyboard and phone fit,
    no serious or critical axe-core finding, no script error, the secret nowhere on the page."""
    assert result["blocked"] == [], f"requests beyond loopback: {result['blocked']}\n{detail}"
    assert result["csp"] == [], f"Content-Security-Policy violations: {result['csp']}\n{detail}"
    assert result["pageErrors"] == [], detail
    assert result["tabsToSendBox"] is not None and result["tabsToSendBox"] <= 10, detail
    layout = result["layout"]
    assert layout["scrollWidth"] <= layout["innerWidth"], f"wider than the screen: {layout}"
    box = layout["sendBox"]
    assert 0 <= box["left"] and box["right"] <= layout["innerWidth"] and box["bottom"] <= layout["innerHeight"], layout
    serious = [v for v in result["axe"]["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, f"axe-core: {json.dumps(serious, ensure_ascii=False, indent=1)}\n{detail}"
    assert result["axe"]["passes"] > 20, result["axe"]
    assert stack["secret"] not in result["pageText"]
    errors = [ln for ln in stack["bot"].lines if "turn failed" in ln or "Traceback" in ln]
    assert not errors, "bot logged errors:\n" + "\n".join(errors[:5]) + f"\n{detail}"


def test_a_resident_gets_the_city_page_offline(citizen, tmp_path):
    shot = Path(os.environ.get("E2E_CITIZEN_SCREENSHOT") or tmp_path / "citizen.png")
    result, detail = _drive(citizen, ["燃やすごみは週に何回出せますか", "/kpi"], shot)
    _check_page(result, detail, citizen)
    # the page's join event: one welcome, in the browser's language (the driver's Chromium runs in ja-JP)
    [welcome] = result["welcome"]
    assert "尼崎市のAIチャットです" in welcome["text"] and "個人情報は入力しないでください" in welcome["text"], welcome
    answer, staff = result["answers"]
    text = "\n".join(answer["texts"])
    # offline: the passages themselves, labelled as search results, the city page linked, the 窓口 named
    assert "検索結果" in text and "オフライン" in text, f"{text}\n{detail}"
    assert "燃やすごみは週2回" in text and "環境部 業務課" in text, f"{text}\n{detail}"
    assert PAGE_URL in answer["links"], f"{answer}\n{detail}"
    # a staff command typed on the citizen page is refused, nothing of the staff assistant answers
    from skills.citizen.strings import STAFF_COMMAND

    assert STAFF_COMMAND in "\n".join(staff["texts"]), f"{staff}\n{detail}"
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.parametrize("citizen", ["llm"], indirect=True)
def test_the_answer_comes_in_the_language_of_the_question(citizen, tmp_path):
    shot = Path(os.environ.get("E2E_CITIZEN_LLM_SCREENSHOT") or tmp_path / "citizen-llm.png")
    result, detail = _drive(citizen, ["燃やすごみは週に何回出せますか", "When is burnable garbage collected?"], shot)
    _check_page(result, detail, citizen)
    ja, en = result["answers"]
    ja_text = "\n".join(ja["texts"])
    assert "燃やすごみの収集は週2回です" in ja_text and "出典" in ja_text, f"{ja_text}\n{detail}"
    [en_answer] = [t for t in en["texts"] if "Burnable garbage is collected twice a week" in t] or [""]
    assert en_answer, f"{en['texts']}\n{detail}"
    # the English answer keeps an English frame: sources, the 窓口, the AI note; Japanese only in the names the
    # prompt asks to keep (the 窓口, the page's title)
    assert "Sources" in en_answer and "Contact: 環境部 業務課" in en_answer and "written by AI" in en_answer
    names_removed = en_answer.replace("環境部 業務課", "").replace("ごみの出し方", "").replace("家庭ごみの収集日", "")
    assert not re.search(r"[ぁ-ん]", names_removed), en_answer
    assert PAGE_URL in ja["links"] and PAGE_URL in en["links"], f"{ja}\n{en}\n{detail}"
    # everything the resident reads after the English question is English (progress lines included)
    japanese = [t for t in en["texts"] if t != en_answer and re.search(r"[ぁ-ん]", t)]
    assert not japanese, f"Japanese lines in the English conversation: {japanese}"
    # the bot asked the model for the language of each question
    answers = [r for r in citizen["llm"].server.chat_requests() if "住民の質問" in r["messages"][-1]["content"]]
    asked = [re.search(r"回答に使う言語: (.+)", r["messages"][-1]["content"]).group(1).strip() for r in answers]
    assert asked == ["日本語", "English"], asked
