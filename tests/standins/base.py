"""The loopback server every stand-in is: aiohttp on 127.0.0.1 with a free port, started and stopped by tests."""
from __future__ import annotations

from aiohttp import web


class LoopbackServer:
    """Subclasses add their routes in `add_routes(app)` (and middlewares in `middlewares()`)."""

    client_max_size = 32 * 1024 * 1024
    port: int = 0
    _runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:  # pragma: no cover - always overridden
        raise NotImplementedError

    def middlewares(self) -> list:
        return []

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self):
        app = web.Application(client_max_size=self.client_max_size, middlewares=self.middlewares())
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()
