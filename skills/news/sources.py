"""The admin-managed source list (YAML), reloaded whenever the file's modification time changes."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    url: str
    title: str = ""
    tags: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass
class SourceConfig:
    """Reads the YAML file; `current()` re-reads it only when its mtime (or size) changed. A broken edit keeps
    the last good list (and logs why) instead of emptying everybody's digest."""

    path: str
    _stamp: tuple[float, int] | None = None
    _specs: list[SourceSpec] = field(default_factory=list)
    error: str | None = None

    def current(self) -> list[SourceSpec]:
        try:
            st = os.stat(self.path)
        except OSError as e:
            self.error = f"source file unreadable: {e.strerror}"
            return self._specs
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            try:
                with open(self.path, encoding="utf-8") as f:
                    self._specs = parse_sources(yaml.safe_load(f))
                self.error = None
            except (yaml.YAMLError, ValueError, TypeError) as e:
                self.error = f"source file invalid: {e}"[:300]
                log.error("news sources file %s is invalid; keeping the previous list: %s", self.path, e)
            self._stamp = stamp
        return self._specs


def parse_sources(doc) -> list[SourceSpec]:
    if doc is None:
        return []
    entries = doc.get("sources") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise ValueError("'sources' must be a list")
    out: list[SourceSpec] = []
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("url"), str):
            raise ValueError(f"entry {i}: url is required")
        url = e["url"].strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"entry {i}: not an http(s) URL: {url}")
        if url in seen:
            continue
        seen.add(url)
        tags = e.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        weight = float(e.get("weight", 1.0))
        out.append(SourceSpec(url=url, title=str(e.get("title") or urlsplit(url).hostname),
                              tags=tuple(str(t) for t in tags), weight=max(0.1, min(3.0, weight))))
    return out
