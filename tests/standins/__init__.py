"""Loopback stand-ins for external services (aiohttp apps on 127.0.0.1:0) used by integration tests."""
