"""A small textual reader for the Bicep in infra/ (no Bicep CLI here): blocks, keys, params, outputs, modules.

It understands just enough of the language for the checks in test_infra.py: single-quoted strings (with
`\\'` escapes and `${...}` interpolation), `//` and `/* */` comments, and balanced braces/brackets."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


def strip_comments(src: str) -> str:
    """Replace comments by spaces (keeping offsets and newlines); strings are left alone."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "'":
            i = _skip_string(src, i)
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        i += 1
    return "".join(out)


def _skip_string(src: str, i: int) -> int:
    """Index just past the single-quoted string starting at src[i]."""
    if src.startswith("'''", i):
        j = src.find("'''", i + 3)
        return len(src) if j < 0 else j + 3
    j = i + 1
    depth = 0
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if depth == 0 and c == "'":
            return j + 1
        if src.startswith("${", j):
            depth += 1
            j += 2
            continue
        if depth and c == "}":
            depth -= 1
        elif depth and c == "'":
            j = _skip_string(src, j)
            continue
        j += 1
    raise ValueError(f"unterminated string at offset {i}")


def matching_close(src: str, open_at: int) -> int:
    """Offset of the bracket closing the one at src[open_at] ('{' or '[')."""
    pairs = {"{": "}", "[": "]"}
    stack = [pairs[src[open_at]]]
    i = open_at + 1
    while i < len(src):
        c = src[i]
        if c == "'":
            i = _skip_string(src, i)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c in "}]":
            if c != stack[-1]:
                raise ValueError(f"unbalanced {c!r} at offset {i}")
            stack.pop()
            if not stack:
                return i
        i += 1
    raise ValueError(f"unclosed bracket at offset {open_at}")


def top_level_keys(block: str) -> dict[str, str]:
    """Keys of an object literal `{ ... }` (outer braces included) mapped to their raw value text."""
    assert block[0] == "{" and block[-1] == "}", block[:40]
    body = block[1:-1]
    keys: dict[str, str] = {}
    i = 0
    key_re = re.compile(r"\s*('(?:[^'\\]|\\.)*'|[A-Za-z_][\w]*)\s*:\s*")
    while i < len(body):
        m = key_re.match(body, i)
        if not m:
            i += 1
            continue
        key = m.group(1).strip("'")
        j = m.end()
        # value runs to the end of the line, or across a bracketed literal
        start = j
        while j < len(body) and body[j] != "\n":
            c = body[j]
            if c == "'":
                j = _skip_string(body, j)
                continue
            if c in "{[":
                j = matching_close(body, j) + 1
                continue
            j += 1
        keys[key] = body[start:j].strip()
        i = j
    return keys


@dataclass
class Param:
    name: str
    type: str
    default: str | None
    decorators: list[str] = field(default_factory=list)


@dataclass
class Declaration:
    kind: str  # resource | module
    symbol: str
    target: str  # resource type@api or module path
    body: str  # the `{ ... }` (outer braces included)
    condition: str | None

    @property
    def keys(self) -> dict[str, str]:
        return top_level_keys(self.body)

    def block(self, *path: str) -> str:
        """The object literal at a key path, e.g. block('properties', 'siteConfig')."""
        text = self.body
        for key in path:
            value = top_level_keys(text)[key]
            assert value.startswith("{"), f"{key} is not an object: {value[:40]}"
            text = value[: matching_close(value, 0) + 1]
        return text


class BicepFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw = path.read_text(encoding="utf-8")
        self.src = strip_comments(self.raw)

    def params(self) -> dict[str, Param]:
        out: dict[str, Param] = {}
        lines = self.src.splitlines()
        decorators: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            if line.startswith("@"):
                text = line
                # decorators may span lines (@allowed([...]))
                while text.count("(") > text.count(")") and i + 1 < len(lines):
                    i += 1
                    text += "\n" + lines[i].strip()
                decorators.append(text)
            elif line.startswith("param "):
                m = re.match(r"param\s+(\w+)\s+(\w+)(?:\s*=\s*(.*))?$", line)
                assert m, f"{self.path}: cannot read {line!r}"
                out[m.group(1)] = Param(m.group(1), m.group(2), m.group(3), decorators)
                decorators = []
            elif line:
                decorators = []
            i += 1
        return out

    def outputs(self) -> dict[str, str]:
        return {m.group(1): m.group(3).strip() for m in
                re.finditer(r"^output\s+(\w+)\s+(\w+)\s*=\s*(.+)$", self.src, re.M)}

    def declarations(self) -> list[Declaration]:
        out = []
        pattern = re.compile(r"^(resource|module)\s+(\w+)\s+'([^']+)'(\s+existing)?\s*=\s*"
                             r"(?:if\s*\((.*?)\)\s*)?(\[for\b[^:]*:\s*)?\{", re.M)
        for m in pattern.finditer(self.src):
            open_at = m.end() - 1
            close = matching_close(self.src, open_at)
            out.append(Declaration(m.group(1), m.group(2), m.group(3), self.src[open_at:close + 1], m.group(5)))
        return out

    def resources(self, type_prefix: str) -> list[Declaration]:
        return [d for d in self.declarations() if d.kind == "resource" and d.target.split("@")[0] == type_prefix]

    def modules(self) -> list[Declaration]:
        return [d for d in self.declarations() if d.kind == "module"]

    def variable_block(self, name: str) -> str:
        m = re.search(rf"^var\s+{name}\s*=\s*", self.src, re.M)
        assert m, f"var {name} not found in {self.path}"
        start = m.end()
        if self.src[start] in "{[":
            return self.src[start: matching_close(self.src, start) + 1]
        return self.src[start: self.src.index("\n", start)].strip()
