"""Images pasted into a Teams chat or sent from the Teams mobile app (the camera, the photo library).

They are not files (no `file.download.info`): each comes as an `image/*` attachment, usually without a name, whose
`contentUrl` is on the Bot Framework attachment service (`https://smba.trafficmanager.net/…/v3/attachments/{id}/
views/original`) and answers only to the bot's own Bot Framework token — the one the Connector client of the turn
holds. A `text/html` attachment with the message body comes with them; it is not a file. Here such an image gets a
name from its content type (写真1.jpg, 写真2.png …) so the router offers it to the skills that take photos, and a
`bearer` that hands the bot's token to core.chatfiles for that URL only: https to a host of BOT_ATTACHMENT_HOSTS
(plain http only to a loopback address: local work and tests), never in anonymous mode."""
from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
from urllib.parse import unquote_to_bytes, urlsplit

from botbuilder.core import BotAdapter, TurnContext

from core.net import host_matches

log = logging.getLogger(__name__)

EXTENSIONS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/png": ".png",
              "image/heic": ".heic", "image/heif": ".heif", "image/gif": ".gif", "image/webp": ".webp",
              "image/bmp": ".bmp", "image/tiff": ".tif"}
PHOTO_WORD = "写真"
# Where the Bot Framework attachment service serves inline images (the bot's token goes to these hosts only).
TOKEN_HOSTS = ("smba.trafficmanager.net", "*.botframework.com")
MAX_DATA_URL_BYTES = 8 * 1024 * 1024      # a data: URL (Agents Playground, Emulator) is inside the request body anyway


def is_inline_image(content_type: str) -> bool:
    return (content_type or "").lower().startswith("image/")


def image_name(given: str | None, content_type: str, number: int) -> str:
    """The attachment's own name when it has an extension, else 写真{n} with the content type's extension."""
    name = (given or "").strip().replace("/", "_").replace("\\", "_")
    if name and "." in name[1:]:
        return name
    ctype = (content_type or "").lower().split(";", 1)[0].strip()
    sub = "".join(ch for ch in ctype.partition("/")[2] if ch.isalnum())[:10]
    # Teams often says only "image/*": phone photos are JPEG, and the skills read the bytes, not the name
    ext = EXTENSIONS.get(ctype) or "." + (sub or "jpg")
    return f"{PHOTO_WORD}{number}{ext}"


def data_url_bytes(url: str) -> bytes | None:
    """The bytes of a `data:` URL (base64 or percent-encoded), None when it is not one or is too large/broken."""
    if not url.startswith("data:") or "," not in url:
        return None
    head, payload = url[5:].split(",", 1)
    if len(payload) > MAX_DATA_URL_BYTES * 4 // 3 + 4:
        return None
    try:
        return base64.b64decode(payload, validate=False) if head.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None


class BotToken:
    """url -> the bot's Bot Framework bearer token for that URL, or None. The credentials are those of the turn's
    Connector client (the same app id, secret or managed identity, scope and authority the replies use; MSAL
    caches the token). Asking for it blocks on MSAL, so it runs in a thread."""

    def __init__(self, credentials, hosts: list[str]) -> None:
        self._credentials = credentials
        self._hosts = hosts

    def allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return False
        if not host or not host_matches(host, self._hosts):
            return False
        return parts.scheme == "https" or (parts.scheme == "http" and _loopback(host))

    async def __call__(self, url: str) -> str | None:
        creds = self._credentials
        if creds is None or not getattr(creds, "microsoft_app_id", None):
            return None                                     # anonymous local mode: nothing to send
        if not self.allowed(url):
            log.warning("the bot's token is not sent to host %s (not in BOT_ATTACHMENT_HOSTS or not https)",
                        _host(url))
            return None
        return await asyncio.to_thread(creds.get_access_token)


def bot_token(turn: TurnContext, hosts: list[str]) -> BotToken:
    client = turn.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
    config = getattr(client, "config", None)
    return BotToken(getattr(config, "credentials", None), hosts)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
