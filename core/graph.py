"""Microsoft Graph (app-only) through msgraph-sdk with azure-identity credentials.

`GraphService` exposes the few calls the skills need (a user's profile, sending a mail from a shared mailbox, an
event with a reminder in a user's calendar, a file behind a SharePoint/OneDrive sharing link).
The credential is a client secret when GRAPH_CLIENT_SECRET is set, otherwise DefaultAzureCredential (managed
identity on App Service). GRAPH_BASE_URL lets tests point the real SDK at a loopback stand-in."""
from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.net import host_matches
from core.settings import AppSettings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SHAREPOINT_HOSTS = ("*.sharepoint.com", "*.sharepoint.us", "*.sharepoint-mil.us")   # SharePoint / OneDrive for Business
_LINK = re.compile(r"https://[^\s<>\"'「」（）()]+", re.I)


def sharing_link(text: str) -> tuple[str, str] | None:
    """(the first SharePoint/OneDrive for Business link in the text, the text without it), or None."""
    for m in _LINK.finditer(text or ""):
        url = m.group(0).rstrip(".,。、")
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            continue
        if host_matches(host, list(SHAREPOINT_HOSTS)):
            return url, (text[:m.start()] + " " + text[m.end():]).strip()
    return None


class GraphSettings(AppSettings):
    section = "graph"
    GRAPH_TENANT_ID: str | None = None
    """Entra ID tenant id for app-only Microsoft Graph access; empty = Graph not configured."""
    GRAPH_CLIENT_ID: str | None = None
    """App registration (client) id used for Microsoft Graph."""
    GRAPH_CLIENT_SECRET: str | None = None
    """Client secret (secret; from the environment / Key Vault). Empty = managed identity (DefaultAzureCredential)."""
    GRAPH_BASE_URL: str = "https://graph.microsoft.com/v1.0"
    """Microsoft Graph base URL (tests point it at a loopback stand-in)."""
    GRAPH_TIMEOUT_SECONDS: float = 30.0
    """Longest wait for Microsoft Graph to connect or to send the next part of an answer (seconds)."""

    @property
    def configured(self) -> bool:
        return bool(self.GRAPH_TENANT_ID and self.GRAPH_CLIENT_ID)


@dataclass
class GraphUser:
    id: str
    display_name: str | None = None
    department: str | None = None
    job_title: str | None = None
    mail: str | None = None


@dataclass
class SharedItem:
    """What a sharing link points at, and what the link itself grants (GET /shares/{id}/driveItem and /permission).
    `scope` is the link's scope — "anonymous", "organization", "users" or "existingAccess" — or None when the URL
    is no sharing link (a file's plain address); `granted` holds the Entra object ids of a "users" link's people."""

    name: str
    size: int | None
    is_file: bool
    web_url: str | None = None
    scope: str | None = None
    granted: tuple[str, ...] = ()
    id: str | None = None
    drive_id: str | None = None
    is_folder: bool = False
    mime: str | None = None

    def lets_open(self, aad_object_id: str | None) -> bool:
        """The link itself shows that this user may open the item: a link for the organisation (or anyone), or a
        link for specific people naming the user. A plain address or an "existing access" link proves nothing."""
        if self.scope in ("organization", "anonymous"):
            return True
        return self.scope == "users" and bool(aad_object_id) and aad_object_id in self.granted


def share_token(url: str) -> str:
    """A sharing URL as Graph's /shares/{shareIdOrEncodedSharingUrl} takes it: "u!" and the URL in unpadded
    base64url."""
    return "u!" + base64.urlsafe_b64encode(url.strip().encode("utf-8")).decode("ascii").rstrip("=")


class GraphError(Exception):
    """A Graph call failed; `status` is the HTTP status when known."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _status_of(exc: BaseException) -> int | None:
    for attr in ("response_status_code", "status_code", "status"):
        v = getattr(exc, attr, None)
        if isinstance(v, int):
            return v
    return None


class GraphService:
    """Small async facade over GraphServiceClient. Build with `GraphService.from_settings(...)` or pass a
    credential (any azure.core async TokenCredential) directly."""

    def __init__(self, credential: Any, base_url: str = "https://graph.microsoft.com/v1.0", *,
                 timeout: float = 30.0) -> None:
        import httpx
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphServiceClient
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_request_adapter import options as graph_options
        from msgraph_core import GraphClientFactory

        host = urlsplit(base_url).hostname or "graph.microsoft.com"
        self.credential = credential
        auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host])
        # msgraph's own client waits 100 s for a stalled Graph; ours gives up after `timeout` (connect, or between
        # two pieces of an answer: a large download that keeps arriving is not cut). Same middleware (retries …).
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), http2=True)
        adapter = GraphRequestAdapter(auth, client=GraphClientFactory.create_with_default_middleware(
            client=self._http, options=graph_options))
        adapter.base_url = base_url.rstrip("/")
        self.client = GraphServiceClient(request_adapter=adapter)
        self.base_url = base_url

    @classmethod
    def from_settings(cls, s: GraphSettings) -> "GraphService | None":
        """None when Graph is not configured."""
        tenant_id, client_id = s.GRAPH_TENANT_ID, s.GRAPH_CLIENT_ID
        if not s.configured or tenant_id is None or client_id is None:  # configured implies both are set
            return None
        cred: AsyncTokenCredential
        if s.GRAPH_CLIENT_SECRET:
            from azure.identity.aio import ClientSecretCredential

            cred = ClientSecretCredential(tenant_id, client_id, s.GRAPH_CLIENT_SECRET)
        else:
            from azure.identity.aio import DefaultAzureCredential

            cred = DefaultAzureCredential(managed_identity_client_id=client_id)
        return cls(cred, s.GRAPH_BASE_URL, timeout=s.GRAPH_TIMEOUT_SECONDS)

    async def get_user(self, user_id: str) -> GraphUser:
        """GET /users/{id}?$select=id,displayName,department,jobTitle,mail."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "department", "jobTitle", "mail"])
        try:
            u = await self.client.users.by_user_id(user_id).get(request_configuration=RequestConfiguration(
                query_parameters=query))
        except Exception as e:  # noqa: BLE001 - mapped for callers
            raise GraphError(f"get_user failed: {type(e).__name__}", _status_of(e)) from e
        if u is None:
            raise GraphError("user not found", 404)
        return GraphUser(id=u.id or user_id, display_name=u.display_name, department=u.department,
                         job_title=u.job_title, mail=u.mail)

    async def member_groups(self, user_id: str) -> list[str]:
        """POST /users/{id}/getMemberGroups: every group the user belongs to, directly or transitively
        (app-only: GroupMember.Read.All or User.Read.All)."""
        from msgraph.generated.users.item.get_member_groups.get_member_groups_post_request_body import (
            GetMemberGroupsPostRequestBody,
        )

        try:
            resp = await self.client.users.by_user_id(user_id).get_member_groups.post(
                GetMemberGroupsPostRequestBody(security_enabled_only=False))
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"member_groups failed: {type(e).__name__}", _status_of(e)) from e
        return [g for g in (resp.value if resp else None) or [] if g]

    async def send_mail(self, sender: str, to: list[str], subject: str, html: str, *,
                        save_to_sent_items: bool = False) -> None:
        """POST /users/{sender}/sendMail with an HTML body (app-only: Mail.Send application permission)."""
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.email_address import EmailAddress
        from msgraph.generated.models.item_body import ItemBody
        from msgraph.generated.models.message import Message
        from msgraph.generated.models.recipient import Recipient
        from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

        msg = Message(subject=subject, body=ItemBody(content_type=BodyType.Html, content=html),
                      to_recipients=[Recipient(email_address=EmailAddress(address=a)) for a in to])
        body = SendMailPostRequestBody(message=msg, save_to_sent_items=save_to_sent_items)
        try:
            await self.client.users.by_user_id(sender).send_mail.post(body)
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"send_mail failed: {type(e).__name__}", _status_of(e)) from e

    async def create_event(self, user_id: str, subject: str, html: str, day: date, *,
                           reminder_minutes: int = 0, time_zone: str = "Tokyo Standard Time",
                           categories: list[str] | None = None) -> str:
        """POST /users/{id}/events: an all-day event on `day` in the user's calendar with an Outlook reminder
        `reminder_minutes` before it starts (app-only: Calendars.ReadWrite application permission, which an
        application access policy should limit to staff mailboxes). Returns the event id."""
        from msgraph.generated.models.body_type import BodyType
        from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
        from msgraph.generated.models.event import Event
        from msgraph.generated.models.free_busy_status import FreeBusyStatus
        from msgraph.generated.models.item_body import ItemBody

        start = datetime.combine(day, datetime.min.time())
        event = Event(subject=subject, body=ItemBody(content_type=BodyType.Html, content=html), is_all_day=True,
                      start=DateTimeTimeZone(date_time=start.isoformat(), time_zone=time_zone),
                      end=DateTimeTimeZone(date_time=(start + timedelta(days=1)).isoformat(), time_zone=time_zone),
                      is_reminder_on=True, reminder_minutes_before_start=max(0, reminder_minutes),
                      show_as=FreeBusyStatus.Free, categories=categories or [])
        try:
            made = await self.client.users.by_user_id(user_id).events.post(event)
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"create_event failed: {type(e).__name__}", _status_of(e)) from e
        if made is None or not made.id:
            raise GraphError("create_event returned no id")
        return made.id

    async def shared_item(self, url: str) -> SharedItem:
        """GET /shares/{encoded url}/driveItem (with `Prefer: redeemSharingLinkIfNecessary`) and
        GET /shares/{encoded url}/permission (the link's scope and people; absent for a plain address). App-only,
        the Graph reference lists Files.ReadWrite.All as the least privileged application permission for /shares."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        share = self.client.shares.by_shared_drive_item_id(share_token(url))
        config: RequestConfiguration = RequestConfiguration()
        config.headers.add("Prefer", "redeemSharingLinkIfNecessary")
        try:
            item = await share.drive_item.get(request_configuration=config)
        except Exception as e:  # noqa: BLE001 - mapped for callers
            raise GraphError(f"shared item failed: {type(e).__name__}", _status_of(e)) from e
        if item is None:
            raise GraphError("shared item not found", 404)
        scope: str | None = None
        granted: tuple[str, ...] = ()
        try:
            perm = await share.permission.get()
        except Exception as e:  # noqa: BLE001 - no sharing link behind the URL (or no right to see it)
            log.info("shared item: no link permission (%s)", _status_of(e))
            perm = None
        if perm is not None and perm.link is not None:
            scope = perm.link.scope
            people = list(perm.granted_to_identities_v2 or []) + ([perm.granted_to_v2] if perm.granted_to_v2 else [])
            granted = tuple(p.user.id for p in people if p is not None and p.user is not None and p.user.id)
        return SharedItem(name=item.name or "", size=item.size, is_file=item.file is not None,
                          web_url=item.web_url, scope=scope, granted=granted, id=item.id,
                          drive_id=getattr(item.parent_reference, "drive_id", None), is_folder=item.folder is not None,
                          mime=getattr(item.file, "mime_type", None))

    async def shared_content(self, url: str) -> bytes:
        """GET /shares/{encoded url}/driveItem/content (Graph answers 302 to a pre-authenticated URL; the SDK
        follows). Callers check the size from `shared_item` first: the SDK returns the body whole."""
        share = self.client.shares.by_shared_drive_item_id(share_token(url))
        try:
            data = await share.drive_item.content.get()
        except Exception as e:  # noqa: BLE001
            raise GraphError(f"shared content failed: {type(e).__name__}", _status_of(e)) from e
        return data or b""

    async def close(self) -> None:
        try:
            await self._http.aclose()
        except Exception:  # noqa: BLE001 - shutting down
            pass
        close = getattr(self.credential, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:  # noqa: BLE001
                pass
