"""Files sent in chat reach the skill as a download URL (Teams file.download.info): fetched over real HTTP from a
loopback server under the host list and the size cap — a 2 GB CSV is cut at the cap with a clear message, a file
on a host that is not Teams' is never fetched."""
from __future__ import annotations

from aiohttp import web

from core import router
from core.skills import FileAttachment
from skills.analysis import strings as S
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.analysis import samples
from tests.skills.analysis.conftest import OPENED, analysis_settings
from tests.skills.analysis.test_analysis_skill import card_text


class FileServer:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.sent = 0

    async def start(self):
        app = web.Application()
        app.router.add_get("/survey.csv", self.survey)
        app.router.add_get("/huge.csv", self.huge)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def survey(self, request):
        self.hits.append(request.path)
        return web.Response(body=samples.survey_csv(), content_type="text/csv")

    async def huge(self, request):
        """A 2 GB CSV, streamed without a Content-Length (the cap must hold while reading)."""
        self.hits.append(request.path)
        resp = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await resp.prepare(request)
        row = b"1,2025-04-01,\xe4\xb8\xad\xe5\xa4\xae,100\n" * 4096
        try:
            while self.sent < 2 * 1024 ** 3:
                await resp.write(row)
                self.sent += len(row)
        except (ConnectionResetError, RuntimeError):
            pass
        return resp

    async def stop(self):
        await self.runner.cleanup()


def services_for(db, tmp_path, **kw):
    services = make_services(db)
    services.settings.put(analysis_settings(tmp_path, ANALYSIS_DOWNLOAD_HOSTS="127.0.0.1",
                                            ANALYSIS_DOWNLOAD_ALLOWLIST="127.0.0.1", **kw))
    OPENED.append(services)
    return services


async def send(services, url: str, name: str):
    port = RecorderPort()
    att = FileAttachment(name=name, content_type="application/vnd.microsoft.teams.file.download.info",
                         download_url=url)
    await router.dispatch(make_request("分析して", attachments=[att]), port, services)
    return port


async def test_download_url_is_fetched_and_profiled(lite_db, tmp_path):
    server = await FileServer().start()
    try:
        services = services_for(lite_db, tmp_path)
        port = await send(services, f"http://127.0.0.1:{server.port}/survey.csv", "survey.csv")
        assert server.hits == ["/survey.csv"]
        assert port.cards() and "文字コード: Shift_JIS" in card_text(port.cards()[-1])
    finally:
        await server.stop()


async def test_a_2gb_csv_is_cut_at_the_cap_with_a_clear_message(lite_db, tmp_path):
    server = await FileServer().start()
    try:
        services = services_for(lite_db, tmp_path, ANALYSIS_MAX_FILE_MB=5)
        port = await send(services, f"http://127.0.0.1:{server.port}/huge.csv", "住民異動.csv")
        assert port.texts() == [S.TOO_LARGE.format(name="住民異動.csv", mb=5)]
        assert server.sent < 64 * 1024 * 1024            # the download stopped near the cap, not at 2 GB
        assert not (tmp_path / "analysis").exists() or not list((tmp_path / "analysis").iterdir())
    finally:
        await server.stop()


async def test_a_url_outside_the_teams_hosts_is_never_fetched(lite_db, tmp_path):
    server = await FileServer().start()
    try:
        services = make_services(lite_db)
        services.settings.put(analysis_settings(tmp_path))          # default hosts: SharePoint, Bot Framework
        OPENED.append(services)
        port = await send(services, f"http://127.0.0.1:{server.port}/survey.csv", "survey.csv")
        assert port.texts() == [S.DOWNLOAD_REFUSED.format(name="survey.csv")]
        assert server.hits == []
    finally:
        await server.stop()
