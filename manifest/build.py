"""Builds the Teams app package (build/appPackage.zip) from the template, the icons and the skill registry.

    python -m manifest [--out build/appPackage.zip] [--print]

Values come from the environment (and `.env`): TEAMS_APP_ID and MicrosoftAppId are required, everything else has a
default. The bot's `commandLists` are generated from the one skill registry, never written by hand: registry order
is importance order, and each list is cut at Teams' limit of 10 commands.
"""
from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Mapping
from urllib.parse import urlsplit

from pydantic import Field

from core.settings import AppSettings
from core.skills import Command, Registry

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "manifest.template.json"
ICONS = {"color.png": HERE / "color.png", "outline.png": HERE / "outline.png"}
DEFAULT_OUT = Path("build") / "appPackage.zip"

MANIFEST_VERSION = "1.22"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"

BOT_SCOPES = ("personal", "team", "groupChat")
MAX_COMMANDS = 10          # per commandList (schema v1.22: maxItems 10)
MAX_TITLE = 32             # Teams: command title at most 32 characters
MAX_DESCRIPTION = 128      # Teams: command description at most 128 characters
MAX_NAME_SHORT = 30
MAX_NAME_FULL = 100
MAX_DEVELOPER_NAME = 32
MAX_VALID_DOMAINS = 16
# Sign-in cards (OAuthPrompt / SSO fallback) open pages on the Bot Framework token service.
TOKEN_SERVICE_DOMAIN = "token.botframework.com"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_HOST = re.compile(r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(:[0-9]{1,5})?$")
_PLACEHOLDER = re.compile(r"\$\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")


class ManifestError(ValueError):
    """The environment does not describe a valid app package; the message says what to set."""


class ManifestSettings(AppSettings):
    """Values for the Teams app package (`make package`)."""

    section: ClassVar[str] = "manifest"

    teams_app_id: str = Field("", alias="TEAMS_APP_ID")
    """Teams app id (a GUID of your choosing, fixed for the life of the app); required for `make package`."""
    microsoft_app_id: str = Field("", alias="MicrosoftAppId")
    """Bot's Microsoft Entra app (client) id; the manifest's botId and SSO id."""
    bot_domain: str = Field("", alias="BOT_DOMAIN")
    """Public host name of the bot (e.g. the App Service host); goes to validDomains and the SSO resource."""
    app_name_short: str = Field("尼崎市AIアシスタント", alias="APP_NAME_SHORT")
    """App name shown in Teams (at most 30 characters)."""
    app_name_full: str = Field("尼崎市 業務支援AIアシスタント", alias="APP_NAME_FULL")
    """Full app name (at most 100 characters)."""
    app_version: str = Field("1.0.0", alias="APP_VERSION")
    """App package version (x.y.z); raise it for every upload to Teams."""
    developer_name: str = Field("尼崎市", alias="DEVELOPER_NAME")
    """Developer name shown in the app details (at most 32 characters)."""
    developer_website_url: str = Field("https://www.city.amagasaki.hyogo.jp/", alias="DEVELOPER_WEBSITE_URL")
    """Developer web site (https)."""
    developer_privacy_url: str = Field("", alias="DEVELOPER_PRIVACY_URL")
    """Privacy statement URL (https); defaults to the web site."""
    developer_terms_url: str = Field("", alias="DEVELOPER_TERMS_URL")
    """Terms of use URL (https); defaults to the web site."""
    accent_color: str = Field("#005EAC", alias="ACCENT_COLOR")
    """Accent colour behind the icon (#RRGGBB)."""


def _settings_from(env: Mapping[str, str]) -> ManifestSettings:
    """Settings from exactly this mapping (names matched case-insensitively), never from the process environment."""
    by_lower = {str(k).lower(): v for k, v in env.items()}
    values: dict[str, Any] = {}
    for name, info in ManifestSettings.model_fields.items():
        key = (info.alias or name).lower()
        if key in by_lower and by_lower[key] is not None:
            values[name] = str(by_lower[key]).strip()
    return ManifestSettings.model_validate(values, by_name=True) if values else ManifestSettings.model_construct()


def _normalize_domain(raw: str) -> str:
    """'https://x.azurewebsites.net/' -> 'x.azurewebsites.net'; a bare host stays as it is."""
    raw = raw.strip()
    if "://" in raw:
        parts = urlsplit(raw)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ManifestError(f"BOT_DOMAIN must be a host name such as 'my-bot.azurewebsites.net', not a URL "
                                f"with a path: {raw!r}")
        raw = parts.netloc
    return raw.rstrip("/").lower()


def _check(s: ManifestSettings) -> list[str]:
    """Every problem at once, each with what to do about it."""
    problems: list[str] = []
    if not s.teams_app_id:
        problems.append("TEAMS_APP_ID is required: a GUID that identifies the Teams app. Create one once "
                        "(python -c 'import uuid; print(uuid.uuid4())') and keep it for every later version.")
    elif not _GUID.match(s.teams_app_id):
        problems.append(f"TEAMS_APP_ID must be a GUID like 00000000-0000-0000-0000-000000000000, got "
                        f"{s.teams_app_id!r}.")
    if not s.microsoft_app_id:
        problems.append("MicrosoftAppId is required: the bot's Microsoft Entra app (client) id, as registered "
                        "for the Azure Bot resource (the same value the bot runs with).")
    elif not _GUID.match(s.microsoft_app_id):
        problems.append(f"MicrosoftAppId must be a GUID (the Entra app's client id), got {s.microsoft_app_id!r}.")
    if s.bot_domain:
        try:
            host = _normalize_domain(s.bot_domain)
        except ManifestError as e:
            problems.append(str(e))
        else:
            if not _HOST.match(host):
                problems.append(f"BOT_DOMAIN must be a host name such as 'my-bot.azurewebsites.net', got "
                                f"{s.bot_domain!r}.")
    if not _SEMVER.match(s.app_version):
        problems.append(f"APP_VERSION must look like 1.0.0 (three numbers), got {s.app_version!r}.")
    for env_name, value, limit in (("APP_NAME_SHORT", s.app_name_short, MAX_NAME_SHORT),
                                   ("APP_NAME_FULL", s.app_name_full, MAX_NAME_FULL),
                                   ("DEVELOPER_NAME", s.developer_name, MAX_DEVELOPER_NAME)):
        if not value:
            problems.append(f"{env_name} must not be empty.")
        elif len(value) > limit:
            problems.append(f"{env_name} may have at most {limit} characters, got {len(value)}: {value!r}.")
    for env_name, value in (("DEVELOPER_WEBSITE_URL", s.developer_website_url),
                            ("DEVELOPER_PRIVACY_URL", s.developer_privacy_url),
                            ("DEVELOPER_TERMS_URL", s.developer_terms_url)):
        if value and not value.lower().startswith("https://"):
            problems.append(f"{env_name} must be an https:// URL, got {value!r}.")
    if not _HEX.match(s.accent_color):
        problems.append(f"ACCENT_COLOR must be a colour like #005EAC, got {s.accent_color!r}.")
    return problems


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def command_entry(cmd: Command) -> dict[str, str]:
    """One manifest command. The title is the slash command itself, because Teams puts the title into the compose
    box when the user picks it, and the router treats `/name` deterministically; the Japanese title leads the
    description so the menu still reads in Japanese."""
    title = f"/{cmd.name}"
    if len(title) > MAX_TITLE:
        raise ManifestError(f"command name {cmd.name!r} is too long for the Teams command menu "
                            f"(at most {MAX_TITLE - 1} characters)")
    description = f"{cmd.title}：{cmd.description}" if cmd.title else cmd.description
    return {"title": title, "description": _clip(description, MAX_DESCRIPTION)}


def command_lists(registry: Registry) -> list[dict[str, Any]]:
    """commandLists from the registry: one list per scope, scopes with identical lists merged; admin-only commands
    and those a skill keeps out of it (`Command.menu=False`: secondary ones, reachable from /help and by typing)
    stay out of the menu; registry order is kept and each list is cut at MAX_COMMANDS."""
    lists: list[dict[str, Any]] = []
    for scope in BOT_SCOPES:
        commands = [command_entry(c) for _, c in registry.commands(scope)
                    if not c.admin_only and c.menu][:MAX_COMMANDS]
        if not commands:
            continue
        for existing in lists:
            if existing["commands"] == commands:
                existing["scopes"].append(scope)
                break
        else:
            lists.append({"scopes": [scope], "commands": commands})
    return lists


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        def repl(m: re.Match) -> str:
            if m.group(1) not in values:
                raise ManifestError(f"manifest template uses an unknown placeholder {m.group(0)}")
            return values[m.group(1)]
        return _PLACEHOLDER.sub(repl, node)
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    return node


def build_manifest(registry: Registry, env: Mapping[str, str]) -> dict[str, Any]:
    """The manifest as a dict, from the template, `env` (only this mapping is read) and the registry.
    Raises ManifestError naming every missing or malformed value."""
    try:
        s = _settings_from(env)
    except ValueError as e:  # pydantic ValidationError is a ValueError
        raise ManifestError(f"invalid app package settings: {e}") from None
    problems = _check(s)
    if problems:
        raise ManifestError("cannot build the Teams app package:\n  - " + "\n  - ".join(problems))

    domain = _normalize_domain(s.bot_domain) if s.bot_domain else ""
    app_id = s.microsoft_app_id.lower()
    # Bot SSO: the Entra app's "Application ID URI". With a domain it is api://<domain>/botid-<appId>.
    sso_resource = f"api://{domain}/botid-{app_id}" if domain else f"api://botid-{app_id}"
    values = {
        "TEAMS_APP_ID": s.teams_app_id.lower(),
        "MicrosoftAppId": app_id,
        "APP_VERSION": s.app_version,
        "APP_NAME_SHORT": s.app_name_short,
        "APP_NAME_FULL": s.app_name_full,
        "DEVELOPER_NAME": s.developer_name,
        "DEVELOPER_WEBSITE_URL": s.developer_website_url,
        "DEVELOPER_PRIVACY_URL": s.developer_privacy_url or s.developer_website_url,
        "DEVELOPER_TERMS_URL": s.developer_terms_url or s.developer_website_url,
        "ACCENT_COLOR": s.accent_color.upper(),
        "SSO_RESOURCE": sso_resource,
    }
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    manifest = _substitute(copy.deepcopy(template), values)
    if manifest.get("manifestVersion") != MANIFEST_VERSION or manifest.get("$schema") != SCHEMA_URL:
        raise ManifestError("manifest.template.json and manifest/build.py disagree on the schema version")

    bot = manifest["bots"][0]
    bot["scopes"] = list(BOT_SCOPES)
    bot["commandLists"] = command_lists(registry)
    if not bot["commandLists"]:
        del bot["commandLists"]
    domains = [d for d in (domain, TOKEN_SERVICE_DOMAIN) if d]
    manifest["validDomains"] = list(dict.fromkeys(domains))[:MAX_VALID_DOMAINS]
    return manifest


def write_package(registry: Registry, env: Mapping[str, str], out_path: str | Path = DEFAULT_OUT) -> Path:
    """Write the app package zip (manifest.json, color.png, outline.png at the root) and return its path."""
    manifest = build_manifest(registry, env)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        for arcname, path in ICONS.items():
            zf.write(path, arcname)
    tmp.replace(out)
    return out
