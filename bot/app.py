"""The aiohttp application: /api/messages (Bot Framework), /healthz, /readyz, and the services behind them."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes

from bot import background, edge
from bot.config import BotSettings
from bot.connectors import CachingAuthentication
from bot.handler import APOLOGY, DB_UNAVAILABLE, AssistantBot, drain_background, new_correlation_id
from bot.logs import correlation_id, quiet_malformed_requests
from bot.proactive import BotProactiveSender
from bot.registry import build_registry
from bot.reply import RawEntity
from core import jsonsafe, router
from core.ai import AI
from core.graph import GraphService, GraphSettings
from core.guard.policy import Guard, GuardSettings
from core.kintone.client import KintoneClient, KintoneSettings
from core.law.client import LawClient, LawSettings
from core.llm import LLMGateway, LLMSettings
from core.search import wordvec
from core.search.index import Index
from core.services import Services
from core.settings import Settings
from core.store import Database, StoreSettings
from core.store.db import unavailable as db_unavailable
from core.telemetry import ERRORS, TURN_DURATION, tracer

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", AssistantBot)
SETTINGS = web.AppKey("settings", BotSettings)
TASKS = web.AppKey("tasks", set)
BACKGROUND = web.AppKey("background", list)
BACKGROUND_ON = web.AppKey("background_on", bool)   # tests set False to drive scheduled work themselves


def auth_config(s: BotSettings) -> SimpleNamespace:
    """The configuration object botbuilder's ConfigurationBotFrameworkAuthentication reads."""
    cfg = SimpleNamespace(APP_ID=s.MicrosoftAppId or None, APP_PASSWORD=s.MicrosoftAppPassword or None,
                          APP_TYPE=s.MicrosoftAppType or "MultiTenant", APP_TENANTID=s.MicrosoftAppTenantId or None)
    if s.BOT_OPENID_METADATA_URL:
        # botbuilder switches to its "parameterized" authentication when any endpoint is given: then every
        # endpoint must be given. These are the public cloud's, with the metadata URL overridden.
        from botbuilder.schema import CallerIdConstants
        from botframework.connector.auth import AuthenticationConstants as K

        cfg.TO_CHANNEL_FROM_BOT_LOGIN_URL = K.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX + K.DEFAULT_CHANNEL_AUTH_TENANT
        cfg.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = K.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        cfg.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = K.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        cfg.OAUTH_URL = K.OAUTH_URL
        cfg.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = s.BOT_OPENID_METADATA_URL
        cfg.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = K.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        cfg.CALLER_ID = CallerIdConstants.public_azure_channel
    return cfg


def build_services(*, db: Database | None = None, llm_settings: LLMSettings | None = None,
                   guard_settings: GuardSettings | None = None, settings: Settings | None = None,
                   local_admin: bool = False) -> Services:
    """The composition root: every shared service built once, from settings read once."""
    settings = settings or Settings()
    for given in (llm_settings, guard_settings):
        if given is not None:
            settings.put(given)
    registry = build_registry()
    db = db or Database.from_settings(settings.get(StoreSettings))
    gateway = LLMGateway(settings.get(LLMSettings))
    gs = settings.get(GuardSettings)
    ai = AI(gateway, Guard(gs, gateway), db, keep_prompts=gs.AUDIT_KEEP_PROMPTS)
    knowledge = Index(db, embed=ai.embed, embed_space=ai.embeddings_space) if ai.can_embed else Index(db)
    services = Services(registry=registry, db=db, llm=gateway, ai=ai, knowledge=knowledge,
                        kintone=KintoneClient(settings.get(KintoneSettings)), law=LawClient(settings.get(LawSettings)),
                        settings=settings, graph=GraphService.from_settings(settings.get(GraphSettings)),
                        local_admin=local_admin)
    services.dispatch = functools.partial(router.dispatch, services=services)
    return services


def create_app(settings: BotSettings | None = None, services: Services | None = None) -> web.Application:
    settings = settings or BotSettings()
    quiet_malformed_requests()
    services = services or build_services(local_admin=settings.anonymous and settings.host_is_loopback())
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(auth_config(settings)))
    adapter.bot_framework_authentication = CachingAuthentication(adapter.bot_framework_authentication)
    bot = AssistantBot(services, allowed_tenants=settings.allowed_tenants, file_delivery=settings.FILE_DELIVERY,
                       attachment_hosts=settings.attachment_hosts)

    async def on_turn_error(turn: TurnContext, error: Exception) -> None:
        cid = correlation_id.get()
        if db_unavailable(error):
            # The database is down (outage, failover, restart): the message was not processed; say so, and that
            # the same text should be sent again (nothing of it was kept). Not a bug: no traceback in the log.
            ERRORS.add(1, {"where": "turn", "reason": "database_unavailable"})
            log.error("turn failed: database unavailable (%s: %s)", type(error).__name__, str(error)[:200])
            text = DB_UNAVAILABLE.format(cid=cid)
        else:
            ERRORS.add(1, {"where": "turn"})
            log.error("turn failed: %s", type(error).__name__, exc_info=error)
            text = APOLOGY.format(cid=cid)
        try:
            if turn.activity.type == ActivityTypes.invoke:
                turn.turn_state["BotFrameworkAdapter.InvokeResponse"] = Activity(
                    type=ActivityTypes.invoke_response,
                    value=SimpleNamespace(status=200, body={"statusCode": 200,
                                                            "type": "application/vnd.microsoft.activity.message",
                                                            "value": text}))
            else:
                await turn.send_activity(text)
        except Exception:  # noqa: BLE001 - the connector may be the thing that failed
            log.warning("could not deliver the apology")

    adapter.on_turn_error = on_turn_error
    services.proactive = BotProactiveSender(adapter, settings.MicrosoftAppId, services.db)

    app = web.Application(client_max_size=settings.MAX_REQUEST_BYTES, middlewares=[_errors_middleware])
    app[SERVICES] = services
    app[ADAPTER] = adapter
    app[BOT] = bot
    app[SETTINGS] = settings
    app[TASKS] = set()
    app.router.add_post("/api/messages", messages, expect_handler=_expect)
    app.router.add_get("/healthz", healthz, expect_handler=_expect)
    app.router.add_get("/readyz", readyz, expect_handler=_expect)
    for _skill, route in services.registry.routes():       # each skill's own endpoints (webhooks, exports)
        app.router.add_route(route.method, route.path, functools.partial(route.handler, services=services),
                             expect_handler=_expect)
    app.router.add_route("*", "/{tail:.*}", _unrouted, expect_handler=_expect)      # last: what nothing else takes
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    return app


async def _expect(request: web.Request) -> None:
    """The `Expect` header: 100-continue is honoured; anything else is a plain 417. aiohttp's own handler repeats the
    value in its answer, and a value with a byte that is not ASCII made that a 500 (found by tests/reliability)."""
    if request.headers.get("Expect", "").strip().lower() == "100-continue":
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0
        return
    raise web.HTTPExpectationFailed(text="Expect ヘッダーの値を受け付けられません。",
                                    content_type="text/plain")


async def _unrouted(request: web.Request) -> web.StreamResponse:
    """A request no route takes: 405 (with Allow) when its path exists for other methods, else 404, in plain
    Japanese. Registered last for every method and path, so that aiohttp's own 404/405 routes (and their Expect
    handler, see _expect) never answer."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:
            _match, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed), content_type="text/plain",
                                       text="このアドレスは、この方法（HTTPメソッド）では利用できません。")
    raise web.HTTPNotFound(content_type="text/plain", text="お探しのページは見つかりません。")


@web.middleware
async def _errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001 - never a stack trace to a caller
        log.exception("unhandled error on %s", request.path)
        return web.json_response({"error": "internal error", "correlation_id": correlation_id.get()}, status=500)


async def _startup(app: web.Application) -> None:
    services = app[SERVICES]
    await services.db.migrate()
    if app.get(BACKGROUND_ON, True):
        app[BACKGROUND] = background.start(services)
    # the word vectors (about a second to read) load off the event loop, before the first question needs them
    warm = asyncio.ensure_future(asyncio.to_thread(wordvec.load))
    app[TASKS].add(warm)
    warm.add_done_callback(app[TASKS].discard)
    log.info("ready (llm=%s, search=%s)", "offline" if services.llm.offline else
             ",".join(e.name for e in services.llm.endpoints), services.ai.search_mode)


async def _shutdown(app: web.Application) -> None:
    await background.stop(app.get(BACKGROUND, []))
    tasks = app[TASKS]
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    await drain_background()
    services = app[SERVICES]
    for name, extra in list(services.extras.items()):     # per-skill clients (HTTP sessions …)
        closer = getattr(extra, "close", None) or getattr(extra, "aclose", None)
        if closer:
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                log.warning("could not close %s", name)
    for client in (services.kintone, services.law, services.graph):
        if client is not None:
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                log.warning("could not close %s", type(client).__name__)
    await services.ai.close()             # deferred audit records (a database outage): one last try
    await services.llm.close()
    await services.db.dispose()


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    ok, why = await services.db.ready()
    # How /ask searches: information, not a readiness condition (BM25 alone still answers).
    search = services.ai.search_mode
    if services.knowledge.embed is None and not search.startswith("bm25"):
        search = "bm25 (the index was built without embeddings)"
    words = (await asyncio.to_thread(wordvec.status)).describe()
    return web.json_response({"status": "ok" if ok else "not ready", "detail": why, "search": search,
                              "word_vectors": words}, status=200 if ok else 503)


def _bad(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def messages(request: web.Request) -> web.Response:
    """POST /api/messages. Bad requests get 4xx (never 500); every authentication failure is 401."""
    cid = new_correlation_id()
    correlation_id.set(cid)
    started = time.perf_counter()
    content_type = request.headers.get("Content-Type", "")
    if "application/json" not in content_type.lower() or not jsonsafe.charset_ok(content_type):
        return _bad(415, "Content-Type must be application/json (UTF-8)")
    limit = request.app[SETTINGS].MAX_REQUEST_BYTES
    if request.content_length is not None and request.content_length > limit:
        return _bad(413, "request body too large")
    try:
        body = jsonsafe.loads(await request.content.read(limit + 1), max_bytes=limit)
    except jsonsafe.BadJson as e:
        return _bad(413 if "large" in e.reason else 400, e.reason)
    if not isinstance(body, dict):
        return _bad(400, "an activity must be a JSON object")
    problem = edge.check_activity(body)
    if problem:
        return _bad(400, problem)
    try:
        activity = Activity().deserialize(body)
        # msrest keeps only an Entity's `type`: keep the whole entity (mention.mentioned, streaminfo …).
        raw_entities = body.get("entities")
        if isinstance(raw_entities, list):
            activity.entities = [RawEntity(e) for e in raw_entities if isinstance(e, dict)]
    except Exception:  # noqa: BLE001 - msrest raises several kinds on hostile input
        return _bad(400, "not a valid activity")
    if not activity.type or not isinstance(activity.type, str):
        return _bad(400, "activity type missing")

    adapter = request.app[ADAPTER]
    bot = request.app[BOT]
    try:
        auth = await adapter.bot_framework_authentication.authenticate_request(
            activity, request.headers.get("Authorization", ""))
    except Exception as e:  # noqa: BLE001 - malformed, expired, wrong audience/signature: all 401
        log.info("authentication failed: %s: %s", type(e).__name__, e)
        return _bad(401, "unauthorized")

    if activity.type == ActivityTypes.invoke:
        with tracer.start_as_current_span("turn", attributes={"activity.type": "invoke",
                                                               "activity.name": str(activity.name)[:64]}):
            resp = await adapter.process_activity(auth, activity, bot.on_turn)
        _log_turn(activity, started)
        if resp is None or resp.body is None:
            return web.Response(status=resp.status if resp else 200)
        return web.json_response(resp.body, status=resp.status, dumps=_dumps)

    # Messages and other activities: acknowledge at once, work in the background (Teams waits ~15 s at most).
    task = asyncio.create_task(_run_turn(adapter, auth, activity, bot, started))
    tasks = request.app[TASKS]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return web.Response(status=202)


async def _run_turn(adapter, auth, activity, bot, started) -> None:
    try:
        with tracer.start_as_current_span("turn", attributes={"activity.type": str(activity.type)[:32],
                                                               "correlation_id": correlation_id.get()}):
            await adapter.process_activity(auth, activity, bot.on_turn)
    except Exception:  # noqa: BLE001 - on_turn_error already answered the user where it could
        ERRORS.add(1, {"where": "turn"})
        log.exception("turn could not be completed")
    finally:
        _log_turn(activity, started)


def _log_turn(activity: Activity, started: float) -> None:
    ms = round((time.perf_counter() - started) * 1000, 1)
    TURN_DURATION.record(ms, {"activity.type": str(activity.type)[:32]})
    log.info("turn done", extra={"activity_type": activity.type, "duration_ms": ms})


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=lambda o: o.serialize() if hasattr(o, "serialize") else str(o))
