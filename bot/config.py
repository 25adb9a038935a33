"""Settings of the Teams edge."""
from __future__ import annotations

import ipaddress

from pydantic import Field

from core.settings import AppSettings, csv_list


class BotSettings(AppSettings):
    section = "bot"
    HOST: str = "127.0.0.1"
    """Address to bind. Without MicrosoftAppId (anonymous, local work) only a loopback address is accepted."""
    PORT: int = 3978
    """Port to listen on."""
    MicrosoftAppId: str | None = Field(default=None, alias="MicrosoftAppId")
    """Bot's Entra app (client) id. Empty = anonymous local mode (Agents Playground), loopback only."""
    MicrosoftAppPassword: str | None = Field(default=None, alias="MicrosoftAppPassword")
    """Client secret (MultiTenant/SingleTenant). Not used with UserAssignedMSI."""
    MicrosoftAppType: str = Field(default="MultiTenant", alias="MicrosoftAppType")
    """MultiTenant | SingleTenant | UserAssignedMSI."""
    MicrosoftAppTenantId: str | None = Field(default=None, alias="MicrosoftAppTenantId")
    """Tenant of the bot's app registration (SingleTenant, UserAssignedMSI)."""
    BOT_OPENID_METADATA_URL: str | None = None
    """Override of the Bot Connector's OpenID metadata URL (sovereign clouds; tests). Empty = public cloud."""
    ALLOWED_TENANT_IDS: str = ""
    """Comma-separated Entra tenant ids allowed to use the bot; empty = any tenant (set this in production)."""
    FILE_DELIVERY: str = "consent"
    """How generated files (.docx, .pptx, .csv) reach users: consent (Teams file-consent card, personal chat) or
    inline (a data URI: the Agents Playground and the Emulator accept it, Teams does not)."""
    BOT_ATTACHMENT_HOSTS: str = "smba.trafficmanager.net,*.botframework.com"
    """Hosts the bot's own Bot Framework token is sent to when it fetches an image pasted into a chat or sent from
    the Teams mobile app (https only; "*.example.com" = any name below it). The skills' download host lists still
    apply to every hop, and the token never follows a redirect."""
    LOG_LEVEL: str = "INFO"
    """Logging level (logs are JSON lines with correlation ids, never message text)."""
    LOG_FORMAT: str = "json"
    """json | text."""
    MAX_REQUEST_BYTES: int = 4 * 1024 * 1024
    """Largest accepted /api/messages body."""

    @property
    def anonymous(self) -> bool:
        return not self.MicrosoftAppId

    @property
    def attachment_hosts(self) -> list[str]:
        return csv_list(self.BOT_ATTACHMENT_HOSTS)

    @property
    def allowed_tenants(self) -> set[str]:
        return set(csv_list(self.ALLOWED_TENANT_IDS))

    def host_is_loopback(self) -> bool:
        if self.HOST in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(self.HOST).is_loopback
        except ValueError:
            return False
