"""A loopback OpenAI-compatible `/v1/embeddings` server (aiohttp) for tests and the retrieval benchmark.

Vectors are deterministic: hashed character bigrams of the NFKC text, plus one strong dimension per entry of
`concepts` (word → concept name) found in the text, so a test can state a synonymy the embeddings "know"."""
from __future__ import annotations

import hashlib
import unicodedata

from aiohttp import web

DIM = 256


def vector(text: str, concepts: dict[str, str] | None = None, dim: int = DIM) -> list[float]:
    t = unicodedata.normalize("NFKC", text)
    v = [0.0] * dim
    for i in range(len(t) - 1):
        h = int.from_bytes(hashlib.blake2b(t[i:i + 2].encode(), digest_size=4).digest(), "big")
        v[h % (dim - 16)] += 1.0
    for word, concept in (concepts or {}).items():
        if word in t:
            h = int.from_bytes(hashlib.blake2b(concept.encode(), digest_size=4).digest(), "big")
            v[dim - 16 + h % 16] += 50.0
    return v


def make_app(*, concepts: dict[str, str] | None = None, api_key: str = "test-key", fail: bool = False,
             calls: list | None = None) -> web.Application:
    async def embeddings(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {api_key}":
            return web.json_response({"error": {"message": "bad key", "type": "invalid_request_error"}}, status=401)
        if fail:
            return web.json_response({"error": {"message": "down", "type": "server_error"}}, status=500)
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if calls is not None:
            calls.append({"model": body.get("model"), "n": len(inputs), "input": list(inputs)})
        data = [{"object": "embedding", "index": i, "embedding": vector(s, concepts)} for i, s in enumerate(inputs)]
        return web.json_response({"object": "list", "data": data, "model": body.get("model", "stub"),
                                  "usage": {"prompt_tokens": sum(len(s) for s in inputs),
                                            "total_tokens": sum(len(s) for s in inputs)}})

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    return app


def embeddings_endpoint(base_url: str, *, api_key: str = "test-key", model: str = "stub-embed",
                        query_prefix: str = "", document_prefix: str = ""):
    """Production's `core.llm.Endpoint` for `base_url`: its `embed(texts, purpose)` goes over the real openai client."""
    from core.llm import Endpoint, EndpointSpec

    return Endpoint(EndpointSpec(name="stub", base_url=base_url, api_key=api_key, embeddings_model=model,
                                 embeddings_query_prefix=query_prefix, embeddings_document_prefix=document_prefix),
                    timeout=10, max_retries=0)
