"""The citizen page and its Direct Line token endpoint: what a resident's browser talks to.

    GET  /citizen                  the page (Bot Framework Web Chat, styled for the city), strict security headers
    GET  /citizen/static/{name}    its assets: the Web Chat bundle (built from node_modules), citizen.js, citizen.css
    POST /api/citizen/token        the Direct Line secret exchanged for a short-lived token of one new conversation

The secret stays on the server: the browser only ever holds a token for its own conversation (Direct Line 3.0
`POST /v3/directline/tokens/generate`, with a user id "dl_…" made here so the user cannot be forged). Token
requests are limited per client address. The page carries no inline script: a per-request nonce admits Web
Chat's own <style> elements and nothing else."""
from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import json
import logging
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from core.ratelimit import RateLimits
from core.skills import Route
from skills.citizen.web_settings import CitizenWebSettings

if TYPE_CHECKING:  # pragma: no cover
    from core.services import Services

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
STATE_KEY = "citizen.web"
TOKEN_PATH = "/api/citizen/token"
PAGE_PATH = "/citizen"
STATIC_PREFIX = "/citizen/static/"
MAX_TOKEN_BODY = 4096
MAX_TOKEN_CHARS = 8192
TOKEN_LIMITS_KEY = "citizen.token-limits"
# Web Chat probes for :focus-visible support with an empty <style> element that does not carry the nonce; the hash
# of the empty text admits exactly that element (nothing with content can match it).
EMPTY_STYLE_HASH = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

# What the resident reads when something is not right (公用文, polite).
RATE_LIMITED = "短い時間に多くの接続がありました。{seconds}秒ほど待ってから、もう一度お試しください。"
NOT_CONFIGURED = ("ただいまチャットをご利用いただけません。お手数ですが、各ページに記載の担当窓口へ"
                  "お問い合わせください。")
UNAVAILABLE = "チャットの接続を準備できませんでした。しばらく待ってから、もう一度お試しください。"
TOO_LARGE = "送信された内容が大きすぎます。ページを読み込み直してから、もう一度お試しください。"
CROSS_SITE = "このページ以外からはチャットを開始できません。"
NO_BUNDLE = ("チャット画面の部品が準備されていないため、チャットを表示できません。お手数ですが、"
             "各ページに記載の担当窓口へお問い合わせください。")
NETWORK = "通信できませんでした。インターネットへの接続を確認し、ページを読み込み直してください。"
NO_SCRIPT = "このチャットを使うには、ブラウザーのJavaScriptを有効にしてください。"
LOADING = "チャットを準備しています。しばらくお待ちください。"


# ------------------------------------------------------------------------------------------------ per-process state

@dataclass
class WebState:
    """What the citizen routes keep per process (in services.extras): one HTTP session, the assets' versions."""

    session: aiohttp.ClientSession | None = None
    versions: dict[str, tuple[float, str]] = field(default_factory=dict)

    def http(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession()
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


def _state(services: "Services") -> WebState:
    return services.extra(STATE_KEY, WebState)


def _settings(services: "Services") -> CitizenWebSettings:
    return services.settings.get(CitizenWebSettings)


# ------------------------------------------------------------------------------------------------ client address

def client_address(request: web.Request, hops: int) -> str:
    """The client's address for rate limiting: the connection's peer, or (behind `hops` trusted proxies that append
    to X-Forwarded-For) the entry the first of them added. IPv6 addresses count per /64 (one household or device
    gets a whole /64, and could otherwise rotate through it)."""
    candidate = request.remote or ""
    if hops > 0:
        chain = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(chain) >= hops:
            candidate = chain[-hops]
    return _normalize_address(candidate) or "unknown"


def _normalize_address(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:            # [2001:db8::1]:443
        value = value[1:value.index("]")]
    elif value.count(":") == 1:                            # 203.0.113.7:51234 (App Service adds the port)
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


# ------------------------------------------------------------------------------------------------ token endpoint

def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> web.Response:
    base = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return web.json_response(payload, status=status, headers={**base, **(headers or {})},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def token(request: web.Request, services: "Services") -> web.StreamResponse:
    """POST /api/citizen/token -> {"token", "conversationId", "expires_in"} for one new conversation."""
    s = _settings(services)
    state = _state(services)
    if request.content_length is not None and request.content_length > MAX_TOKEN_BODY:
        return _json(413, {"error": TOO_LARGE})
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return _json(403, {"error": CROSS_SITE})
    # every replica counts into the same window (core.ratelimit: the database), keyed by the hashed address
    limits: RateLimits = services.extra(TOKEN_LIMITS_KEY, lambda: RateLimits(services.db))
    limited = await limits.hit(
        [(f"citizen-token:{client_address(request, s.CITIZEN_FORWARDED_HOPS)}", s.CITIZEN_TOKEN_LIMIT)],
        s.CITIZEN_TOKEN_WINDOW_SECONDS)
    if limited is not None:
        seconds = limited.retry_after
        return _json(429, {"error": RATE_LIMITED.format(seconds=seconds), "retry_after": seconds},
                     headers={"Retry-After": str(seconds)})
    if not s.DIRECTLINE_SECRET:
        log.warning("citizen token requested but DIRECTLINE_SECRET is not set")
        return _json(503, {"error": NOT_CONFIGURED})
    body: dict = {"user": {"id": f"dl_{secrets.token_hex(16)}"}}
    if s.trusted_origins:
        body["trustedOrigins"] = s.trusted_origins
    url = f"{s.DIRECTLINE_ENDPOINT}/v3/directline/tokens/generate"
    try:
        async with state.http().post(url, json=body, headers={"Authorization": f"Bearer {s.DIRECTLINE_SECRET}"},
                                     timeout=aiohttp.ClientTimeout(total=s.DIRECTLINE_TIMEOUT_SECONDS)) as r:
            status = r.status
            raw = await r.read() if status == 200 else b""
    except asyncio.TimeoutError:
        log.warning("Direct Line token exchange timed out")
        return _json(504, {"error": UNAVAILABLE})
    except aiohttp.ClientError as e:
        log.warning("Direct Line token exchange failed: %s", type(e).__name__)
        return _json(502, {"error": UNAVAILABLE})
    if status != 200:
        log.warning("Direct Line refused the token exchange: HTTP %s", status)
        return _json(502, {"error": UNAVAILABLE})
    answer = _token_answer(raw)
    if answer is None:
        log.warning("Direct Line answered the token exchange with something that is not a token")
        return _json(502, {"error": UNAVAILABLE})
    return _json(200, answer)


def _token_answer(raw: bytes) -> dict | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    tok, conv, expires = data.get("token"), data.get("conversationId"), data.get("expires_in")
    if not (isinstance(tok, str) and 0 < len(tok) <= MAX_TOKEN_CHARS and isinstance(conv, str)
            and 0 < len(conv) <= 1024 and isinstance(expires, int) and not isinstance(expires, bool)):
        return None
    return {"token": tok, "conversationId": conv, "expires_in": expires}


# ------------------------------------------------------------------------------------------------ the page

def _template() -> string.Template:
    return string.Template((STATIC_DIR / "page.html").read_text(encoding="utf-8"))


def bundle_path(s: CitizenWebSettings) -> Path:
    return s.assets_dir / "webchat.js"


def _version(state: WebState, path: Path) -> str:
    """A short content hash for cache busting (recomputed when the file changes)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return "0"
    key = str(path)
    known = state.versions.get(key)
    if known and known[0] == mtime:
        return known[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    state.versions[key] = (mtime, digest)
    return digest


def content_security_policy(s: CitizenWebSettings, nonce: str) -> str:
    http_origin, ws_origin = s.directline_origins
    ancestors = " ".join(["'self'", *s.frame_ancestors])
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        f"style-src 'self' 'nonce-{nonce}' '{EMPTY_STYLE_HASH}'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "media-src 'self' blob:",
        f"connect-src 'self' {http_origin} {ws_origin}",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "object-src 'none'",
        f"frame-ancestors {ancestors}",
    ])


def security_headers(s: CitizenWebSettings, nonce: str) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(s, nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Strict-Transport-Security": "max-age=31536000",
        "Cache-Control": "no-store",
    }
    if not s.frame_ancestors:
        headers["X-Frame-Options"] = "SAMEORIGIN"     # older browsers; CSP frame-ancestors is the rule
    return headers


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def render_page(s: CitizenWebSettings, state: WebState, nonce: str) -> tuple[int, str]:
    bundle = bundle_path(s)
    ready = bundle.is_file()
    config = {
        "tokenUrl": TOKEN_PATH,
        "domain": s.directline_domain,
        "locale": "ja-JP",
        "colors": {"primary": s.CITIZEN_COLOR_PRIMARY, "background": s.CITIZEN_COLOR_BACKGROUND},
        "text": {"tokenFailed": UNAVAILABLE, "network": NETWORK, "noBundle": NO_BUNDLE},
    }
    # A data block, never executed; "<" escaped so no text can close the element.
    config_json = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    scripts = ""
    if ready:
        scripts = (f'<script src="{STATIC_PREFIX}webchat.js?v={_version(state, bundle)}" defer></script>\n'
                   f'<script src="{STATIC_PREFIX}citizen.js?v={_version(state, STATIC_DIR / "citizen.js")}" '
                   f'nonce="{nonce}" defer></script>')
    else:
        log.warning("citizen page served without Web Chat: %s is missing (run `make citizen-assets`)", bundle)
    page = _template().substitute(
        title=_escape(s.CITIZEN_PAGE_TITLE), subtitle=_escape(s.CITIZEN_PAGE_SUBTITLE),
        notice_ai=_escape(s.CITIZEN_NOTICE_AI), notice_privacy=_escape(s.CITIZEN_NOTICE_PRIVACY),
        notice_emergency=_escape(s.CITIZEN_NOTICE_EMERGENCY), notice_contact=_escape(s.CITIZEN_NOTICE_CONTACT),
        primary=s.CITIZEN_COLOR_PRIMARY, background=s.CITIZEN_COLOR_BACKGROUND, nonce=nonce,
        css=f"{STATIC_PREFIX}citizen.css?v={_version(state, STATIC_DIR / 'citizen.css')}",
        config=config_json, scripts=scripts, status=_escape(LOADING if ready else NO_BUNDLE),
        status_class="status" if ready else "status status-error", no_script=_escape(NO_SCRIPT))
    return (200 if ready else 503), page


async def page(request: web.Request, services: "Services") -> web.StreamResponse:
    """GET /citizen: the page, or (without the Web Chat bundle) the same page saying so, with status 503."""
    s = _settings(services)
    nonce = secrets.token_urlsafe(18)
    status, text = render_page(s, _state(services), nonce)
    headers = security_headers(s, nonce)
    if status == 503:
        headers["Retry-After"] = "300"
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=headers)


# ------------------------------------------------------------------------------------------------ static assets

_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


def _static_file(s: CitizenWebSettings, name: str) -> Path | None:
    if name == "webchat.js":
        return bundle_path(s)
    if name in ("citizen.js", "citizen.css"):
        return STATIC_DIR / name
    return None


async def static(request: web.Request, services: "Services") -> web.StreamResponse:
    """GET /citizen/static/{name}: a fixed list of files, nothing else (no path from the request reaches the disk)."""
    path = _static_file(_settings(services), request.match_info.get("name", ""))
    if path is None or not path.is_file():
        return web.Response(status=404, text="見つかりません。", content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})
    versioned = "v" in request.query
    headers = {"X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin",
               "Content-Type": f"{_STATIC_TYPES[path.suffix]}; charset=utf-8",
               "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache"}
    return web.FileResponse(path, headers=headers)


ROUTES: list[Route] = [
    Route("GET", PAGE_PATH, page),
    Route("GET", f"{STATIC_PREFIX}{{name}}", static),
    Route("POST", TOKEN_PATH, token),
]
