"""Baseline for bench/turn_latency.py: a bare botbuilder echo bot (CloudAdapter on aiohttp), anonymous."""
import os
from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication


class Echo(ActivityHandler):
    async def on_message_activity(self, turn: TurnContext):
        await turn.send_activity(f"echo: {turn.activity.text}")


adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(SimpleNamespace(APP_ID=None, APP_PASSWORD=None)))
bot = Echo()


async def messages(request):
    return await adapter.process(request, bot)


async def healthz(_):
    return web.json_response({"status": "ok"})


app = web.Application()
app.router.add_post("/api/messages", messages)
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), print=None, access_log=None)
