"""Reuse Bot Connector clients across turns.

CloudAdapter asks its connector factory for a new ConnectorClient on every turn and every proactive send; building
one costs about 7 ms of CPU (msrest rebuilds its retry table) plus a new HTTP session. The C# SDK caches them; this
does the same, keyed by service URL and audience, around whatever authentication the adapter was given."""
from __future__ import annotations

from botframework.connector.auth.connector_factory import ConnectorFactory

MAX_CLIENTS = 256


class _CachingFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory, cache: dict) -> None:
        self._inner = inner
        self._cache = cache

    async def create(self, service_url: str, audience: str = None):
        key = (service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._cache) >= MAX_CLIENTS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = client
        return client


class CachingAuthentication:
    """Wraps a BotFrameworkAuthentication: identical behaviour, connector clients reused."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self._clients: dict = {}

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def authenticate_request(self, activity, auth_header):
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = _CachingFactory(result.connector_factory, self._clients)
        return result

    def create_connector_factory(self, claims_identity):
        return _CachingFactory(self._inner.create_connector_factory(claims_identity), self._clients)

    async def create_user_token_client(self, claims_identity):
        """Created on every turn by CloudAdapter (another msrest client); reused per calling app."""
        claims = getattr(claims_identity, "claims", None) or {}
        key = ("user-token", claims.get("aud"), claims.get("appid") or claims.get("azp"), claims.get("iss"))
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._clients[key] = client
        return client
