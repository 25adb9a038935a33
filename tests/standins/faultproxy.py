"""A TCP fault proxy on loopback for tests: the app talks to a server (PostgreSQL …) through it, and a test can make
that server disappear the way a stopped or failed-over database does, without touching the real one (other tests and
processes share it).

`cut(seconds)`: every live connection is reset at once (the client sees its socket die mid-query) and the listening
socket is closed, so a new connection is refused (ECONNREFUSED, as from a stopped server) until the outage ends; then
the proxy listens again on the same port and forwards as before. `outage(seconds)` is the same as a background
task. Counters say what the fault did: connections accepted, reset by a cut, refused while down."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time


class FaultProxy:
    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.down = False
        self.accepted = 0
        self.reset = 0               # live connections cut by an outage
        self.cuts = 0
        self.down_since: float | None = None
        self.healed_at: float | None = None
        self._flowing = asyncio.Event()   # cleared by stall(): bytes are held (a network partition), not lost
        self._flowing.set()

    async def start(self) -> "FaultProxy":
        await self._listen()
        return self

    async def _listen(self) -> None:
        # The same port after an outage (SO_REUSEADDR: the closed listener's port is free at once on Linux).
        for _ in range(50):
            try:
                self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                          reuse_address=True)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:  # pragma: no cover - the port was taken by someone else meanwhile
            raise RuntimeError(f"fault proxy could not listen again on port {self.port}")
        self.port = self._server.sockets[0].getsockname()[1]

    def url_for(self, url: str) -> str:
        """The same database URL, pointing at the proxy: postgresql+asyncpg://u@127.0.0.1:5432/db -> …:<port>/db."""
        head, sep, tail = url.partition("@")
        host_port, slash, rest = tail.partition("/")
        return f"{head}{sep}127.0.0.1:{self.port}{slash}{rest}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self._writers.add(writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer, self._flowing), _pipe(up_reader, writer, self._flowing))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    _abort(w)
            self._conns.discard(task)

    async def cut(self, seconds: float) -> None:
        """Reset every connection, refuse new ones for `seconds`, then heal."""
        await self.go_down()
        await asyncio.sleep(seconds)
        await self.heal()

    async def go_down(self) -> None:
        self.cuts += 1
        self.down = True
        self.down_since = time.monotonic()
        if self._server is not None:
            self._server.close()          # new connections are refused from here on (wait_closed would wait for
            self._server = None           # the live ones, which are reset just below)
        self.reset += len(self._conns)
        for w in list(self._writers):
            _abort(w)                     # each connection's pipes then end on their own
        await asyncio.sleep(0)

    def stall(self) -> None:
        """A partition instead of a stop: connections stay open and new ones are accepted, but no byte passes
        until `unstall()` (then everything held is delivered, as TCP retransmission would)."""
        self._flowing.clear()

    def unstall(self) -> None:
        self._flowing.set()

    async def heal(self) -> None:
        await self._listen()
        self.down = False
        self.healed_at = time.monotonic()

    def outage(self, seconds: float) -> asyncio.Task:
        return asyncio.get_running_loop().create_task(self.cut(seconds))

    def refuses(self) -> bool:
        """True when a new TCP connection to the proxy is refused right now (a probe, for the test's own check)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return False
        except OSError:
            return True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            _abort(w)
        if self._conns:
            await asyncio.wait(set(self._conns), timeout=2)

    async def __aenter__(self) -> "FaultProxy":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass                              # the other side was reset (an outage): this direction ends
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0 via transport.abort): the peer's next read fails at once."""
    with contextlib.suppress(Exception):
        writer.transport.abort()
