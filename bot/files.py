"""Files from the bot to a user in Teams: the file-consent flow (personal chat).

Teams does not accept file attachments from bots inline. The bot offers a FileConsentCard; when the user accepts,
Teams sends the invoke `fileConsent/invoke` with an upload URL in the user's OneDrive; the bot PUTs the bytes
there and then posts a file-info card. The bytes wait in the database (`kv`, one day) between the offer and the
click, so any replica can finish the upload. `FILE_DELIVERY=inline` sends a data URI instead (the Agents
Playground and the Bot Framework Emulator accept those; Teams does not)."""
from __future__ import annotations

import base64
import logging
import uuid
from datetime import timedelta

import aiohttp
from botbuilder.schema import Activity, ActivityTypes, Attachment

from core.store.models import KeyValue, utcnow

log = logging.getLogger(__name__)

CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
KEEP = timedelta(days=1)
MAX_BYTES = 20 * 1024 * 1024


async def offer(turn, db, name: str, content: bytes, content_type: str, description: str) -> str | None:
    """Store the file and send the consent card. Returns the sent activity id."""
    if len(content) > MAX_BYTES:
        await turn.send_activity("ファイルが大きすぎるため送信できませんでした（20MBまで）。")
        return None
    file_id = uuid.uuid4().hex
    user = turn.activity.from_property.id if turn.activity.from_property else None
    async with db.session() as s:
        s.add(KeyValue(key=f"file:{file_id}", expires_at=utcnow() + KEEP,
                       value={"name": name, "content_type": content_type, "user": user,
                              "b64": base64.b64encode(content).decode("ascii")}))
    card = {"description": description or f"{name} を送信します。", "sizeInBytes": len(content),
            "acceptContext": {"file_id": file_id}, "declineContext": {"file_id": file_id}}
    resp = await turn.send_activity(Activity(type=ActivityTypes.message, text=description or None, attachments=[
        Attachment(content_type=CONSENT, name=name, content=card)]))
    return getattr(resp, "id", None)


async def on_consent(turn, db, value: dict) -> None:
    """The user's answer to a consent card: upload on accept, forget the file on decline."""
    context = value.get("context") if isinstance(value.get("context"), dict) else {}
    file_id = str(context.get("file_id") or "")
    async with db.session() as s:
        row = await s.get(KeyValue, f"file:{file_id}") if file_id else None
        stored = dict(row.value) if row else None
        if row is not None:
            await s.delete(row)
    if stored is None:
        await turn.send_activity("このファイルの受け取り期限が過ぎました。もう一度、作成の操作からお試しください。")
        return
    if value.get("action") != "accept":
        await turn.send_activity("ファイルの送信を取り消しました。")
        return
    info = value.get("uploadInfo") if isinstance(value.get("uploadInfo"), dict) else {}
    upload_url = info.get("uploadUrl")
    if not upload_url:
        await turn.send_activity("ファイルの保存先が受け取れませんでした。もう一度お試しください。")
        return
    data = base64.b64decode(stored["b64"])
    headers = {"Content-Length": str(len(data)), "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with http.put(upload_url, data=data, headers=headers) as r:
                if r.status not in (200, 201):
                    raise RuntimeError(f"upload answered {r.status}")
    except Exception as e:  # noqa: BLE001 - tell the user, keep nothing half-done
        log.warning("file upload failed: %s", type(e).__name__)
        await turn.send_activity("OneDrive へのファイルの保存に失敗しました。時間をおいて、もう一度お試しください。")
        return
    await turn.send_activity(Activity(type=ActivityTypes.message, attachments=[Attachment(
        content_type=FILE_INFO, name=info.get("name") or stored["name"], content_url=info.get("contentUrl"),
        content={"uniqueId": info.get("uniqueId"), "fileType": info.get("fileType")})]))
