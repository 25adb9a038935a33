"""`python -m devtools.directline --bot http://127.0.0.1:3978/api/messages --port 3979`

Serves the Direct Line 3.0 stand-in on a loopback address until interrupted. The secret the app exchanges for
tokens comes from --secret or DIRECTLINE_SECRET (one is made up and printed when neither is given)."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import secrets
import signal
import sys

from devtools.directline.server import DirectLineStandIn


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _serve(args: argparse.Namespace, secret: str) -> None:
    server = DirectLineStandIn(args.bot, secret=secret, host=args.host, port=args.port, channel_id=args.channel_id)
    await server.start()
    print(f"[directline] Direct Line 3.0 stand-in on {server.origin} -> bot at {args.bot} "
          f"(channel {args.channel_id})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.directline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bot", default="http://127.0.0.1:3978/api/messages", help="the bot's /api/messages URL")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=3979, help="port (default 3979; 0 = a free one)")
    p.add_argument("--secret", default=None, help="Direct Line secret (default: $DIRECTLINE_SECRET)")
    p.add_argument("--channel-id", default="webchat", help="channelId of the activities sent to the bot")
    args = p.parse_args(argv)
    if not _loopback(args.host):
        print(f"refusing to start: the stand-in has no real authentication, so --host must be a loopback "
              f"address, not {args.host!r}", file=sys.stderr)
        return 2
    secret = args.secret or os.environ.get("DIRECTLINE_SECRET") or ""
    if not secret:
        secret = secrets.token_urlsafe(24)
        print(f"[directline] no secret given: using DIRECTLINE_SECRET={secret}", flush=True)
    logging.basicConfig(level=logging.WARNING, format="[directline] %(levelname)s %(message)s")
    try:
        asyncio.run(_serve(args, secret))
    except OSError as e:
        print(f"[directline] could not listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
