"""The README's configuration table, generated from every settings class (one source of truth)."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil

import core
import skills
from core.settings import registered_settings


def _import_all() -> None:
    import bot.config  # noqa: F401
    import manifest.build  # noqa: F401

    for pkg in (core, skills):
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if mod.name.endswith(("settings", "config", "client", "policy", "llm", "db")) or \
                    mod.name.rsplit(".", 1)[-1] in ("settings", "config", "client", "policy", "llm", "db", "graph"):
                try:
                    importlib.import_module(mod.name)
                except Exception:  # noqa: BLE001 - a module that cannot import has no settings to show
                    pass


def _field_docs(cls) -> dict[str, str]:
    """Docstrings written under each field (attribute docstrings), read from the class source."""
    try:
        tree = ast.parse(inspect.getsource(cls).lstrip())
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and i + 1 < len(body):
            nxt = body[i + 1]
            if isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant) and \
                    isinstance(nxt.value.value, str):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


SECTION_ORDER = ("bot", "storage", "llm", "guard", "graph", "observability", "news", "drafting", "qa", "kintone",
                 "planning", "law", "kpi", "manifest")


def _order(cls) -> tuple:
    sec = getattr(cls, "section", "general")
    return (SECTION_ORDER.index(sec) if sec in SECTION_ORDER else len(SECTION_ORDER), sec, cls.__module__,
            cls.__qualname__)


def rows() -> list[tuple[str, str, str, str]]:
    """Every setting, in a fixed order (whatever order the modules happened to be imported in)."""
    _import_all()
    out = []
    seen = set()
    for cls in sorted(registered_settings(), key=_order):
        docs = _field_docs(cls)
        for name, field in cls.model_fields.items():
            env = field.alias or name
            if env in seen:
                continue
            seen.add(env)
            default = field.default
            shown = "" if default is None else (str(default).lower() if isinstance(default, bool) else str(default))
            out.append((getattr(cls, "section", "general"), env, shown, docs.get(name, "")))
    return out


def markdown_table() -> str:
    lines = ["| Variable | Default | What it does |", "|---|---|---|"]
    section = None
    for sec, env, default, doc in rows():
        if sec != section:
            lines.append(f"| **{sec}** | | |")
            section = sec
        d = f"`{default}`" if default else ""
        lines.append(f"| `{env}` | {d} | {doc.replace('|', '/')} |")
    return "\n".join(lines)
