"""A kintone stand-in that can hold a record POST open, so a test can kill the bot in the middle of a hand-off:
`hold = "before"` keeps the request waiting before the record exists (kintone never got it), `hold = "after"`
creates the record and then keeps the answer back (kintone has it, the bot never learns its id). `release()`
lets held requests go on: a "before" request then fails (503, no record), an "after" one answers (to nobody)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from tests.standins.kintone import KintoneStandIn, _error


class HoldingKintone(KintoneStandIn):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.hold: str | None = None
        self.held = 0                       # record POSTs that reached the hold
        self._gate = asyncio.Event()

    def release(self) -> None:
        self._gate.set()

    async def _post_record(self, request: web.Request) -> web.Response:
        mode = self.hold
        if mode is None:
            return await super()._post_record(request)
        self.held += 1
        if mode == "before":
            await self._gate.wait()
            return _error(503, "GAIA_UN01", "一時的なエラーが発生しました。")
        answer = await super()._post_record(request)
        await self._gate.wait()
        return answer
