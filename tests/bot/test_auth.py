"""Authentication at the edge, with real JWTs against a loopback OpenID issuer: every failure is a 401,
a valid Bot Connector token is accepted, and anonymous mode never binds beyond loopback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.harness import make_services, running_bot
from tests.standins.connector import ConnectorStandIn

APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"


class Issuer:
    """OpenID metadata + JWKS served from a thread (botframework fetches them with blocking `requests`)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "k1", "use": "sig", "endorsements": ["msteams"]})
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path.endswith("openid"):
                    body = {"issuer": ISSUER, "jwks_uri": f"{issuer.url}/keys"}
                else:
                    body = {"keys": [jwk]}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, *, aud=APP_ID, key=None, service_url=None, exp_in=3600, kid="k1", iss=ISSUER) -> str:
        now = int(time.time())
        claims = {"iss": iss, "aud": aud, "iat": now - 10, "nbf": now - 10, "exp": now + exp_in}
        if service_url:
            claims["serviceurl"] = service_url
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.server.shutdown()


@pytest.fixture
async def authed_bot(db, issuer):
    connector = await ConnectorStandIn().start()
    services = make_services(db)
    async with running_bot(services, MicrosoftAppId=APP_ID, MicrosoftAppPassword="secret",
                           MicrosoftAppType="MultiTenant",
                           BOT_OPENID_METADATA_URL=f"{issuer.url}/openid") as url:
        yield url, connector, issuer
    await connector.stop()


async def post(url, activity, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/api/messages", json=activity, headers=headers) as r:
            return r.status


async def test_every_forged_request_is_refused_with_401_and_a_valid_one_is_accepted(authed_bot):
    url, connector, issuer = authed_bot
    act = connector.activity("/help")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "missing": None,
        "garbage": "garbage",
        "unsigned": "eyJhbGciOiJub25lIn0.eyJhdWQiOiIxMTExIn0.",
        "wrong signature": issuer.token(key=other_key, service_url=connector.url),
        "wrong audience": issuer.token(aud="99999999-0000-0000-0000-000000000000", service_url=connector.url),
        "expired": issuer.token(exp_in=-3600, service_url=connector.url),
        "wrong issuer": issuer.token(iss="https://evil.example", service_url=connector.url),
        "unknown key id": issuer.token(kid="nope", service_url=connector.url),
    }
    for name, tok in forged.items():
        assert await post(url, act, tok) == 401, name
    assert connector.posts == []          # nothing was answered to any forged request
    assert await post(url, act, issuer.token(service_url=connector.url)) == 202


def test_anonymous_mode_refuses_to_bind_beyond_loopback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "OPENAI", "AZURE"))}
    env.update(HOST="0.0.0.0", PORT="0", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/a.db")
    proc = subprocess.run([sys.executable, "-m", "bot"], cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "loopback" in proc.stderr
