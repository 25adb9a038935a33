"""A lease in the shared `kv` table: at most one process (replica) holds it at a time.

Taking it: the row's expiry is in the past (or unset). Renewing it: compare-and-set on the exact expiry this holder
wrote last, so a holder that lost the lease (expired and taken by another) cannot renew it by mistake."""
from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, update

from core.store.db import upsert
from core.store.models import KeyValue

log = logging.getLogger(__name__)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(self, db, key: str, ttl: timedelta, clock, owner: str | None = None) -> None:
        self.db = db
        self.key = key
        self.ttl = ttl
        self.clock = clock
        self.owner = owner or instance_name()
        self._expires: datetime | None = None

    @property
    def held(self) -> bool:
        return self._expires is not None

    async def acquire(self) -> bool:
        """Take or renew the lease; True when this process holds it afterwards."""
        now = self.clock.now()
        new_expiry = now + self.ttl
        value = {"owner": self.owner, "renewed": now.isoformat()}
        if self._expires is not None:
            async with self.db.session() as s:
                res = await s.execute(update(KeyValue).where(KeyValue.key == self.key,
                                                             KeyValue.expires_at == self._expires)
                                      .values(value=value, expires_at=new_expiry, updated_at=now))
            if res.rowcount == 1:
                self._expires = new_expiry
                return True
            log.info("lease %s lost by %s", self.key, self.owner)
            self._expires = None
        async with self.db.session() as s:
            await upsert(s, KeyValue, {"key": self.key, "value": {"owner": None}, "expires_at": None,
                                       "updated_at": now}, keys=["key"], update=[])
        async with self.db.session() as s:
            res = await s.execute(update(KeyValue).where(
                KeyValue.key == self.key, or_(KeyValue.expires_at.is_(None), KeyValue.expires_at < now))
                .values(value=value, expires_at=new_expiry, updated_at=now))
        if res.rowcount == 1:
            self._expires = new_expiry
            log.info("lease %s taken by %s", self.key, self.owner)
            return True
        return False

    async def release(self) -> None:
        if self._expires is None:
            return
        now = self.clock.now()
        async with self.db.session() as s:
            await s.execute(update(KeyValue).where(KeyValue.key == self.key, KeyValue.expires_at == self._expires)
                            .values(value={"owner": None, "released_by": self.owner},
                                    expires_at=now - timedelta(seconds=1), updated_at=now))
        self._expires = None
