"""Where a received file waits while its conversation asks about it, and which file a conversation is on.

A dataset is a folder under ANALYSIS_DATA_DIR named by a random id: one Parquet file per table and `meta.json` (the
file name, the tables and their column reports, the profiles, the personal-data columns, who sent it). The
conversation's current dataset is a row of the shared `kv` table ("analysis.current.<conversation>.<user>"), so a
follow-up question finds it until the user sends another file; results shown on cards wait in `kv` too
("analysis.result.<token>", for paging and the Excel report). Everything expires after ANALYSIS_KEEP_HOURS; the
folder lives on this replica's disk, so after a restart on another machine the user is asked to send the file
again.

While the reading child writes a dataset's Parquet copy (after it has answered with the profile), it holds an
exclusive lock on the folder's `copy.lock` (`hold_copy_lock`); `wait_copy` waits for it (a query before it loads
the tables, `remove` before it deletes the folder). The kernel drops the lock when the child ends, however it ends."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete

try:
    import fcntl
except ImportError:    # not on POSIX (a developer's Windows machine): no lock, a query may find the copy unfinished
    fcntl = None  # type: ignore[assignment]

from core.store.db import upsert
from core.store.models import KeyValue
from skills.analysis.loader import TableInfo

log = logging.getLogger(__name__)

CURRENT = "analysis.current."
RESULT = "analysis.result."
_ID_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass
class Dataset:
    id: str
    folder: Path
    filename: str
    user_id: str
    tables: list[TableInfo]
    profiles: list[dict]
    personal: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    current: int = 0                 # index of the table questions go to by default

    @property
    def has_personal(self) -> bool:
        return any(self.personal.values())

    def table(self, index: int | None = None) -> TableInfo:
        i = self.current if index is None else index
        return self.tables[max(0, min(i, len(self.tables) - 1))]

    def profile(self, index: int | None = None) -> dict:
        i = self.current if index is None else index
        return self.profiles[max(0, min(i, len(self.profiles) - 1))]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "filename": self.filename, "user_id": self.user_id,
                "tables": [t.to_json() for t in self.tables], "profiles": self.profiles, "personal": self.personal,
                "notes": self.notes, "current": self.current}


def new_id() -> str:
    return secrets.token_urlsafe(12)


def folder_of(data_dir: str | Path, dataset_id: str) -> Path | None:
    if not dataset_id or not set(dataset_id) <= _ID_OK or len(dataset_id) > 40:
        return None
    return Path(data_dir) / dataset_id


def save(ds: Dataset) -> None:
    (ds.folder / "meta.json").write_text(json.dumps(ds.to_json(), ensure_ascii=False, default=str), encoding="utf-8")


def open_dataset(data_dir: str | Path, dataset_id: str) -> Dataset | None:
    folder = folder_of(data_dir, dataset_id)
    if folder is None:
        return None
    try:
        d = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Dataset(id=d["id"], folder=folder, filename=d["filename"], user_id=d["user_id"],
                   tables=[TableInfo.from_json(t) for t in d["tables"]], profiles=list(d["profiles"]),
                   personal={k: dict(v) for k, v in (d.get("personal") or {}).items()},
                   notes=list(d.get("notes") or []), current=int(d.get("current") or 0))


COPY_LOCK = "copy.lock"


def hold_copy_lock(folder: Path):
    """In the reading child: take the folder's copy lock (exclusive) and return the open file; the lock is held
    until the file is closed or the process ends. The file holds the child's pid (for a person looking)."""
    f = (folder / COPY_LOCK).open("a+b")
    if fcntl is not None:
        fcntl.flock(f, fcntl.LOCK_EX)
    f.truncate(0)
    f.write(str(os.getpid()).encode())
    f.flush()
    return f


def wait_copy(folder: Path, timeout: float) -> bool:
    """Wait until no process holds the folder's copy lock (the copy is written, or its writer ended). True when
    free (or there is no lock file), False when still held after `timeout` seconds."""
    if fcntl is None:
        return True
    try:
        fd = os.open(folder / COPY_LOCK, os.O_RDONLY)
    except OSError:
        return True
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.01)
    finally:
        os.close(fd)


def remove(folder: Path, wait: float = 30.0) -> None:
    """Delete a dataset's folder, after its reading child has finished writing into it (at most `wait` s)."""
    wait_copy(folder, wait)
    shutil.rmtree(folder, ignore_errors=True)


def purge(data_dir: str | Path, keep_hours: float, now: float | None = None) -> list[str]:
    """Delete dataset folders older than keep_hours. Returns the ids removed."""
    root = Path(data_dir)
    if not root.is_dir():
        return []
    limit = (now or time.time()) - keep_hours * 3600
    gone = []
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        meta = folder / "meta.json"
        stamp = meta.stat().st_mtime if meta.exists() else folder.stat().st_mtime
        if stamp < limit:
            remove(folder)
            gone.append(folder.name)
    return gone


def _current_key(conversation_id: str, user_id: str) -> str:
    return (CURRENT + f"{conversation_id}.{user_id}")[:200]


async def set_current(services, conversation_id: str, user_id: str, dataset_id: str, keep_hours: float) -> None:
    now = services.clock.now()
    async with services.db.session() as s:
        await upsert(s, KeyValue, {"key": _current_key(conversation_id, user_id), "value": {"dataset": dataset_id},
                                   "expires_at": now + timedelta(hours=keep_hours), "updated_at": now},
                     keys=["key"])


async def get_current(services, conversation_id: str, user_id: str) -> str | None:
    now = services.clock.now()
    async with services.db.session() as s:
        row = await s.get(KeyValue, _current_key(conversation_id, user_id))
    if row is None or (row.expires_at is not None and row.expires_at < now):
        return None
    return (row.value or {}).get("dataset")


async def put_result(services, user_id: str, dataset_id: str, payload: dict, keep_hours: float) -> str:
    token = secrets.token_urlsafe(12)
    now = services.clock.now()
    async with services.db.session() as s:
        s.add(KeyValue(key=RESULT + token, value={"user_id": user_id, "dataset": dataset_id, **payload},
                       expires_at=now + timedelta(hours=keep_hours), updated_at=now))
    return token


async def get_result(services, token: str, user_id: str) -> dict | None:
    if not token:
        return None
    now = services.clock.now()
    async with services.db.session() as s:
        row = await s.get(KeyValue, RESULT + token)
    if row is None or (row.expires_at is not None and row.expires_at < now):
        return None
    value = dict(row.value or {})
    return value if value.get("user_id") == user_id else None


async def purge_kv(services) -> int:
    now = services.clock.now()
    async with services.db.session() as s:
        res = await s.execute(delete(KeyValue).where(KeyValue.key.like("analysis.%"), KeyValue.expires_at < now))
    return int(res.rowcount or 0)
