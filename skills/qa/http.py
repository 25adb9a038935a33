"""The kintone webhook endpoint (aiohttp handler; the app mounts it, e.g. POST /api/kintone/webhook).

kintone signs nothing, so the webhook URL registered in kintone carries KINTONE_WEBHOOK_TOKEN as `?token=…`
(or the header X-Webhook-Token); without a configured token every call is refused. An UPDATE_RECORD /
UPDATE_STATUS event for one of our escalated questions whose status is 回答済 delivers the answer to the asker."""
from __future__ import annotations

import logging

from aiohttp import web

from core import jsonsafe
from skills.qa.escalation import deliver_kintone_record

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def kintone_webhook_handler(services):
    """The aiohttp handler bound to these services (tests mount it on their own app)."""

    async def bound(request: web.Request) -> web.Response:
        return await kintone_webhook(request, services)

    return bound


async def kintone_webhook(request: web.Request, services) -> web.Response:
    """POST /api/kintone/webhook (declared in the skill's routes)."""
    client = services.kintone
    token = request.query.get("token") or request.headers.get("X-Webhook-Token")
    if not client.verify_webhook_token(token):
        return web.json_response({"error": "unauthorized"}, status=401)
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.json_response({"error": "request body too large"}, status=413)
    try:
        payload = jsonsafe.loads(await request.content.read(MAX_BODY + 1), max_bytes=MAX_BODY)
    except jsonsafe.BadJson as e:
        return web.json_response({"error": e.reason}, status=413 if "large" in e.reason else 400)
    record = client.parse_webhook(payload)
    if record is None:
        return web.json_response({"status": "ignored"})
    delivered = await deliver_kintone_record(services, record)
    return web.json_response({"status": "delivered" if delivered else "ignored"})
