"""`python -m bot` — start the assistant (default), or run an admin task:

    python -m bot                      serve on HOST:PORT (defaults 127.0.0.1:3978)
    python -m bot ingest <set> <path>  register a local folder's documents in a knowledge set
    python -m bot reembed [<set> …]    give stored documents vectors from the configured embeddings
    python -m bot config-table         print the configuration table (Markdown) for the README
    python -m bot new-migration <rev> <message>   autogenerate a migration (developers)
"""
from __future__ import annotations

import sys

from aiohttp import web


def serve() -> int:
    from bot import logs
    from bot.config import BotSettings

    settings = BotSettings()
    logs.setup(settings.LOG_LEVEL, settings.LOG_FORMAT)
    if settings.anonymous and not settings.host_is_loopback():
        print(f"refusing to start: no MicrosoftAppId is set (anonymous mode), so HOST must be a loopback address, "
              f"not {settings.HOST!r}. Set MicrosoftAppId/MicrosoftAppPassword (or UserAssignedMSI) to listen on "
              f"other addresses.", file=sys.stderr)
        return 2
    from bot.app import create_app
    from core import telemetry

    telemetry.setup()

    app = create_app(settings)
    print(f"尼崎市AIアシスタント: listening on http://{settings.HOST}:{settings.PORT}/api/messages", flush=True)
    web.run_app(app, host=settings.HOST, port=settings.PORT, print=None, access_log=None)
    return 0


def config_table() -> int:
    from bot.configdoc import markdown_table

    print(markdown_table())
    return 0


def ingest(argv: list[str]) -> int:
    from bot.admin import ingest_command

    return ingest_command(argv)


def reembed(argv: list[str]) -> int:
    from bot.admin import reembed_command

    return reembed_command(argv)


def new_migration(argv: list[str]) -> int:
    import asyncio
    import importlib

    from core.store import all_models  # noqa: F401 - core's tables
    from core.store.new_migration import main as autogenerate
    from skills.catalog import model_modules

    if len(argv) != 2:
        print("usage: python -m bot new-migration <rev> <message>", file=sys.stderr)
        return 2
    for name in model_modules():
        importlib.import_module(name)
    asyncio.run(autogenerate(argv[0], argv[1]))
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        return serve()
    cmd, rest = argv[0], argv[1:]
    if cmd == "serve":
        return serve()
    if cmd == "config-table":
        return config_table()
    if cmd == "ingest":
        return ingest(rest)
    if cmd == "reembed":
        return reembed(rest)
    if cmd == "new-migration":
        return new_migration(rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
