"""`make run` (anonymous, loopback): the one local user is the administrator and sees /kpi; never in production."""
from __future__ import annotations

from bot.app import SERVICES, create_app
from bot.config import BotSettings
from core import router
from skills.kpi import strings as S
from tests.harness import RecorderPort, make_request


async def _kpi(services) -> RecorderPort:
    port = RecorderPort()
    await router.dispatch(make_request("/kpi", aad_object_id=None), port, services)
    return port


async def test_the_local_user_of_an_anonymous_loopback_bot_sees_the_kpi_card(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/local.db")
    local = create_app(BotSettings(_env_file=None, HOST="127.0.0.1"))[SERVICES]
    deployed = create_app(BotSettings(_env_file=None, HOST="0.0.0.0", MicrosoftAppId="app-id",
                                      MicrosoftAppPassword="secret"))[SERVICES]
    assert local.local_admin and not deployed.local_admin
    try:
        await local.db.migrate()
        port = await _kpi(local)
        assert port.cards() and "利用状況" in str(port.cards()[0]) and S.NOT_ADMIN not in port.texts()
        port = await _kpi(deployed)
        assert port.texts() == [S.NOT_ADMIN]
    finally:
        for services in (local, deployed):
            await services.llm.close()
            await services.db.dispose()
