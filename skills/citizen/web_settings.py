"""Settings of the citizen page (/citizen) and its Direct Line token endpoint (/api/citizen/token)."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import field_validator

from core.settings import AppSettings, csv_list

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ASSETS_DIR = ROOT / "build" / "citizen"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


class CitizenWebSettings(AppSettings):
    section = "citizen"

    DIRECTLINE_SECRET: str | None = None
    """Direct Line secret of the bot's Direct Line (or Web Chat) channel. Server side only: exchanged for a short-lived token per conversation, never sent to the browser. Empty = the citizen page cannot start a chat."""
    DIRECTLINE_ENDPOINT: str = "https://directline.botframework.com"
    """Direct Line service the page and the token exchange use (a regional bot has its own endpoint; `make run`: the local stand-in, http://127.0.0.1:3979)."""
    DIRECTLINE_TIMEOUT_SECONDS: float = 10.0
    """Timeout of the token exchange with Direct Line (seconds)."""
    CITIZEN_TRUSTED_ORIGINS: str = ""
    """Origins (comma separated) sent as `trustedOrigins` when a token is generated (Direct Line enhanced authentication); empty = not sent."""
    CITIZEN_FRAME_ANCESTORS: str = ""
    """Origins (comma separated, e.g. https://www.city.amagasaki.hyogo.jp) whose pages may embed /citizen in an iframe; empty = only this app itself."""
    CITIZEN_TOKEN_LIMIT: int = 10
    """Chat sessions (tokens) one client address may start per CITIZEN_TOKEN_WINDOW_SECONDS."""
    CITIZEN_TOKEN_WINDOW_SECONDS: int = 60
    """Window of CITIZEN_TOKEN_LIMIT (seconds)."""
    CITIZEN_FORWARDED_HOPS: int = 0
    """Reverse proxies in front of the app that append the client address to X-Forwarded-For (App Service: 1); 0 = the connection's own address is the client's."""
    CITIZEN_PAGE_TITLE: str = "尼崎市 AIチャット案内"
    """Title of the citizen page (header and browser tab)."""
    CITIZEN_PAGE_SUBTITLE: str = "市のホームページの情報をもとに、AIがご質問にお答えします。"
    """One line under the title."""
    CITIZEN_COLOR_PRIMARY: str = "#00508c"
    """Main colour of the page (header, the resident's messages, buttons), #rrggbb; keep a contrast of 4.5:1 or more with white."""
    CITIZEN_COLOR_BACKGROUND: str = "#f4f7fa"
    """Background colour of the chat area, #rrggbb."""
    CITIZEN_NOTICE_AI: str = ("回答はAI（人工知能）が作成します。誤りを含むことがありますので、"
                              "必ず回答に示すリンク先の市のページで内容をご確認ください。")
    """Notice on the page: the answers are written by AI."""
    CITIZEN_NOTICE_PRIVACY: str = "氏名、住所、電話番号、マイナンバーなどの個人情報は入力しないでください。"
    """Notice on the page: do not type personal data."""
    CITIZEN_NOTICE_EMERGENCY: str = ("このチャットは緊急の連絡には使えません。火事・救急は119番、"
                                     "事件・事故は110番に電話してください。")
    """Notice on the page: emergency contacts."""
    CITIZEN_NOTICE_CONTACT: str = "お問合せは、各ページに記載の担当窓口、または尼崎市役所（代表）06-6375-5639へお願いします。"
    """Notice on the page: where to ask a person (a phone number of the city's call centre, for example)."""
    CITIZEN_ASSETS_DIR: str = ""
    """Folder holding the Web Chat bundle (webchat.js), built from node_modules by `make citizen-assets`; empty =
    build/citizen beside the code."""

    @field_validator("CITIZEN_COLOR_PRIMARY", "CITIZEN_COLOR_BACKGROUND")
    @classmethod
    def _color(cls, v: str) -> str:
        if not _COLOR.match(v or ""):
            raise ValueError("a colour must be written #rrggbb")
        return v.lower()

    @field_validator("DIRECTLINE_ENDPOINT")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        v = (v or "").strip().rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError("DIRECTLINE_ENDPOINT must be an http(s) origin such as https://directline.botframework.com")
        return v

    @field_validator("CITIZEN_FRAME_ANCESTORS", "CITIZEN_TRUSTED_ORIGINS")
    @classmethod
    def _origins(cls, v: str) -> str:
        for origin in csv_list(v):
            if not _ORIGIN.match(origin):
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return v

    @field_validator("CITIZEN_TOKEN_LIMIT", "CITIZEN_TOKEN_WINDOW_SECONDS")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be 1 or more")
        return v

    @field_validator("CITIZEN_FORWARDED_HOPS")
    @classmethod
    def _hops(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be 0 or more")
        return v

    @property
    def directline_domain(self) -> str:
        """The base the browser's Direct Line client talks to."""
        return f"{self.DIRECTLINE_ENDPOINT}/v3/directline"

    @property
    def directline_origins(self) -> tuple[str, str]:
        """The endpoint's HTTP origin and its WebSocket origin (for the page's connect-src)."""
        parts = urlsplit(self.DIRECTLINE_ENDPOINT)
        ws = "wss" if parts.scheme == "https" else "ws"
        return self.DIRECTLINE_ENDPOINT, f"{ws}://{parts.netloc}"

    @property
    def frame_ancestors(self) -> list[str]:
        return csv_list(self.CITIZEN_FRAME_ANCESTORS)

    @property
    def trusted_origins(self) -> list[str]:
        return csv_list(self.CITIZEN_TRUSTED_ORIGINS)

    @property
    def assets_dir(self) -> Path:
        return Path(self.CITIZEN_ASSETS_DIR) if self.CITIZEN_ASSETS_DIR else DEFAULT_ASSETS_DIR
