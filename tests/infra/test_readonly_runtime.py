"""The app writes only where it is told to (issue #21): `python -m bot` run with the whole root filesystem read-only
(code, venv, /tmp, the repository's ./var) and /dev/shm read-only, in a private mount namespace (`unshare -m`: the
nearest thing to a read-only container root this machine can run without a Docker daemon), with one writable
directory bound over itself for HOME, TMPDIR and the SQLite database — the paths the image declares writable
(/app/var; HOME and TMPDIR may point there). Over loopback HTTP: /healthz and /readyz answer, and real turns through
the stand-in Bot Connector work: /help, creating a knowledge set (database writes), a Word file sent in chat
downloaded and converted in the isolated converter process (temporary files) and registered, then found by /ask.
No log line says a write failed (EROFS), none is an ERROR. Needs root (as CI runs) for the mount namespace; skipped
elsewhere."""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import docx
import pytest
from aiohttp import web

from tests.standins.connector import ConnectorStandIn

ROOT = Path(__file__).resolve().parents[2]
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"
# made read-only in the namespace, after the writable directory is bound over itself
SCRIPT = """set -e
mount --bind "$RW" "$RW"
mount -o remount,bind,ro /
mount -o remount,bind,ro /dev/shm
if touch "$REPO/.rw-probe" 2>/dev/null || touch /tmp/.rw-probe 2>/dev/null; then echo "NOT READ-ONLY" >&2; exit 97; fi
exec "$@"
"""


def _namespace_ok() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = "mount -o remount,bind,ro / && mount -o remount,bind,ro /dev/shm"
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", probe],
                          capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _namespace_ok(), reason="needs root, `unshare -m` and read-only remounts in it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _word() -> bytes:
    d = docx.Document()
    d.add_heading("庁舎の開庁時間", 1)
    d.add_paragraph("本庁舎の開庁時間は、平日の午前8時45分から午後5時30分までです。")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


async def test_the_bot_runs_with_everything_read_only_but_its_declared_directory(tmp_path):
    rw = tmp_path / "rw"
    for sub in ("home", "tmp", "data"):
        (rw / sub).mkdir(parents=True)
    connector = await ConnectorStandIn().start()
    word = _word()

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=word, content_type="application/octet-stream")

    files = web.AppRunner(web.Application())
    files.app.router.add_get("/dl/kaicho", serve)
    await files.setup()
    site = web.TCPSite(files, "127.0.0.1", 0)
    await site.start()
    file_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/dl/kaicho"

    port = _free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "RW": str(rw), "REPO": str(ROOT),
           "HOME": str(rw / "home"), "TMPDIR": str(rw / "tmp"), "PYTHONDONTWRITEBYTECODE": "1",
           "HOST": "127.0.0.1", "PORT": str(port), "BACKGROUND_JOBS": "false", "LOG_LEVEL": "INFO",
           "DATABASE_URL": f"sqlite+aiosqlite:///{rw / 'data' / 'assistant.db'}",
           "QA_DOWNLOAD_HOSTS": "127.0.0.1", "QA_DOWNLOAD_ALLOWLIST": "127.0.0.1"}
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "bash", "-c", SCRIPT, "ro",
                                 sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                try:
                    async with s.get(f"{base}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "the bot did not answer /healthz in 60 s"
                await __import__("asyncio").sleep(0.3)
            async with s.get(f"{base}/readyz") as r:
                assert r.status == 200, await r.text()

            async def turn(text: str | None, timeout: float = 60.0, **extra) -> str:
                n = len(connector.messages())
                async with s.post(f"{base}/api/messages", json=connector.activity(text, **extra)) as r:
                    assert r.status in (200, 202)
                await connector.wait_for(lambda _a: len(connector.messages()) > n, timeout=timeout)
                return json.dumps(connector.messages()[n:], ensure_ascii=False)

            assert "/ask" in await turn("/help")
            assert "ro-test" in await turn("/ask 作成 ro-test 読み取り専用の試験")
            registered = await turn("ナレッジに登録して", attachments=[{
                "contentType": FILE_INFO, "name": "開庁時間.docx", "contentUrl": file_url,
                "content": {"downloadUrl": file_url, "uniqueId": "k1", "fileType": "docx"}}])
            assert "「開庁時間.docx」をナレッジセット「ro-test」に登録しました" in registered, registered
            assert "午前8時45分" in await turn("/ask 本庁舎の開庁時間は何時からですか")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        await connector.stop()
        await files.cleanup()
    text = log.read_text(errors="replace")
    assert "NOT READ-ONLY" not in text
    assert "Read-only file system" not in text and "Errno 30" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if '"level": "ERROR"' in line]
    assert errors == [], errors
    written = sorted(str(p.relative_to(rw)) for p in rw.rglob("*") if p.is_file())
    print(f"\nwritten under the writable directory: {written}", end="")
    assert "data/assistant.db" in written


def test_the_image_declares_one_writable_directory_and_puts_temporary_files_there():
    """What the run above had writable, the image has: /app/var owned by the app's account, TMPDIR inside it; HOME
    (/app) stays the read-only code directory — the run above shows nothing needs to write there."""
    from tests.infra.test_infra import final_stage

    ins = final_stage()
    env = dict(kv.split("=", 1) for op, arg in ins if op == "ENV" for kv in arg.split())
    run = " ".join(arg for op, arg in ins if op == "RUN")
    assert env["TMPDIR"] == "/app/var/tmp" and "mkdir -p /app/var/tmp" in run and "chown -R app:app /app/var" in run
    assert "--home-dir /app " in run and [a for op, a in ins if op == "USER"][-1].startswith("10001")
