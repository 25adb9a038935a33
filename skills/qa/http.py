"""The kintone webhook endpoint (aiohttp handler; the app mounts it, e.g. POST /api/kintone/webhook).

kintone signs nothing, so the webhook URL registered in kintone carries KINTONE_WEBHOOK_TOKEN as `?token=…`
(or the header X-Webhook-Token); without a configured token every call is refused. An UPDATE_RECORD /
UPDATE_STATUS event for one of our escalated questions whose status is 回答済 delivers the answer to the asker."""
from __future__ import annotations

import json
import logging

from aiohttp import web

from skills.qa.escalation import deliver_kintone_record
from skills.qa.service import kintone_of

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def kintone_webhook_handler(services):
    """The aiohttp handler bound to these services."""

    async def kintone_webhook(request: web.Request) -> web.Response:
        client = kintone_of(services)
        token = request.query.get("token") or request.headers.get("X-Webhook-Token")
        if not client.verify_webhook_token(token):
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "request body too large"}, status=413)
        try:
            payload = json.loads((await request.read()).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "malformed JSON"}, status=400)
        record = client.parse_webhook(payload)
        if record is None:
            return web.json_response({"status": "ignored"})
        delivered = await deliver_kintone_record(services, record)
        return web.json_response({"status": "delivered" if delivered else "ignored"})

    return kintone_webhook
