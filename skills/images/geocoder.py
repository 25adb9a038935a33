"""The address of a photo's GPS position, from a reverse geocoder (off unless IMAGES_GEOCODER_URL is set).

The API spoken is 国土地理院's reverse geocoder:
``GET https://mreversegeocoder.gsi.go.jp/reverse-geocoder/LonLatToAddress?lat=34.7333&lon=135.4067`` →
``{"results": {"muniCd": "28202", "lv01Nm": "東七松町一丁目"}}``: ``muniCd`` is the 市区町村コード (sometimes without its
leading zero, e.g. "1101"), ``lv01Nm`` the 町・字 ("－" when there is none); a point with no answer (the sea, abroad)
comes back without ``results``. The code is named from a table that is data (data/municipalities.csv: 兵庫県 and
the 大阪府 neighbours of 尼崎市, from 地理院地図's muni.js), so the address reads 「兵庫県尼崎市東七松町一丁目」.

Outbound like every URL call here: only for the tiers in IMAGES_GEOCODER_TIERS (the GSI service is on the
internet, so by default not from LGWAN or マイナンバー利用事務系 requests), through core.net's address policy (no
private or metadata addresses unless allow-listed, every redirect hop checked, no hop to another host, a body cap
and a deadline). Only the coordinates are sent. Answers are cached (core.cache.TTLCache, per URL, the position
rounded to about a metre). A failure is `GeocodeFailed`: the caller shows the coordinates and the map link and
says nothing of the geocoder."""
from __future__ import annotations

import asyncio
import csv
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import aiohttp

from core.cache import TTLCache
from core.net import AddressPolicy, FetchRefused, fetch_checked, host_matches, policy_session
from skills.images.settings import ImagesSettings

log = logging.getLogger(__name__)

SHIPPED_TABLE = Path(__file__).parent / "data" / "municipalities.csv"
MAX_BYTES = 64 * 1024
NO_TOWN = ("", "－", "-", "ー", "―")

_caches: dict[tuple[str, float], TTLCache[tuple[float, float], "Address | None"]] = {}


class GeocodeFailed(Exception):
    """The geocoder did not answer usefully (refused, unreachable, timed out, not 200, not its JSON)."""


@dataclass(frozen=True)
class Address:
    code: str               # 市区町村コード, 5 digits ("" when the answer had none)
    municipality: str       # 「兵庫県尼崎市」, "" when the code is not in the table
    town: str               # 「東七松町一丁目」, "" when there is none

    @property
    def text(self) -> str:
        return f"{self.municipality}{self.town}"


@lru_cache(maxsize=8)
def municipalities(path: str = "") -> dict[str, str]:
    """市区町村コード → 「都道府県市区町村」 from the CSV (code, prefecture, municipality; lines starting # skipped)."""
    out: dict[str, str] = {}
    with open(path or SHIPPED_TABLE, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if not row or row[0].lstrip().startswith("#") or len(row) < 3:
                continue
            code = _code(row[0])
            if code:
                out[code] = row[1].strip() + row[2].strip()
    return out


def _code(raw: object) -> str:
    text = str(raw if raw is not None else "").strip()
    return text.zfill(5) if text.isdigit() and 1 <= len(text) <= 5 else ""


def parse(data: object, table: dict[str, str]) -> Address | None:
    """The geocoder's JSON → an Address, or None when it knows no place there. Raises GeocodeFailed when the
    body is not the geocoder's shape at all."""
    if not isinstance(data, dict):
        raise GeocodeFailed("not an object")
    results = data.get("results")
    if results is None or results == {} or results == []:
        return None
    if not isinstance(results, dict):
        raise GeocodeFailed("results is not an object")
    code = _code(results.get("muniCd"))
    town = str(results.get("lv01Nm") or "").strip()
    town = "" if town in NO_TOWN else town[:100]
    municipality = table.get(code, "")
    if not municipality and not town:
        return None
    return Address(code=code, municipality=municipality, town=town)


class Geocoder:
    """One batch's geocoder: one HTTP session (close it), the shared cache, and a fuse — after the first failure
    the rest of the batch is not looked up (200 photos would otherwise wait 200 timeouts)."""

    def __init__(self, settings: ImagesSettings) -> None:
        self.settings = settings
        self.url = settings.IMAGES_GEOCODER_URL.strip()
        self.host = urlsplit(self.url).hostname or ""
        self.policy = AddressPolicy(settings.geocoder_allowlist)
        self.table = municipalities(settings.IMAGES_MUNICIPALITIES_FILE.strip())
        ttl = max(0.0, settings.IMAGES_GEOCODER_CACHE_HOURS) * 3600
        self.cache = _caches.setdefault((self.url, ttl), TTLCache(ttl, max_entries=4096))
        self.failed = False
        self._pending: dict[tuple[float, float], asyncio.Task] = {}   # photos of one place asked about once
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def address(self, lat: float, lon: float) -> Address | None:
        """The address at the position, None when there is none or the geocoder failed (logged, not raised)."""
        key = (round(lat, 5), round(lon, 5))
        if key in self.cache:
            return self.cache.get(key)
        if self.failed:
            return None
        task = self._pending.get(key)
        if task is None:
            task = self._pending[key] = asyncio.ensure_future(self._ask(*key))
        try:
            found = await asyncio.shield(task)
        except GeocodeFailed as e:
            if not self.failed:
                self.failed = True
                log.info("images: geocoder failed (%s); coordinates only for the rest of the batch", e)
            return None
        finally:
            if task.done():
                self._pending.pop(key, None)
        self.cache.put(key, found)
        return found

    async def _ask(self, lat: float, lon: float) -> Address | None:
        sep = "&" if urlsplit(self.url).query else "?"
        url = f"{self.url}{sep}{urlencode({'lat': f'{lat:.5f}', 'lon': f'{lon:.5f}'})}"
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.IMAGES_GEOCODER_TIMEOUT_SECONDS)
            self._session = policy_session(self.policy, timeout=timeout, headers={"Accept": "application/json"},
                                           limit=4)
        result = await fetch_checked(self._session, url, self.policy, max_bytes=MAX_BYTES, max_redirects=2,
                                     check=self._same_host, deadline=self.settings.IMAGES_GEOCODER_TIMEOUT_SECONDS)
        if not result.ok:
            raise GeocodeFailed(f"{result.error} {result.detail}".strip())
        try:
            data = json.loads(result.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise GeocodeFailed("body is not JSON") from None
        return parse(data, self.table)

    def _same_host(self, url: str) -> None:
        if not host_matches(urlsplit(url).hostname or "", [self.host]):
            raise FetchRefused("not_allowed", "redirect to another host")


def for_request(settings: ImagesSettings, tier: str | None) -> Geocoder | None:
    """A geocoder for this request, or None: none configured, or the request's tier may not reach it."""
    if not settings.IMAGES_GEOCODER_URL.strip() or (tier or "") not in settings.geocoder_tiers:
        return None
    return Geocoder(settings)
