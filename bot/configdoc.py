"""The README's configuration table, generated from every settings class (one source of truth)."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil

from core.settings import registered_settings

PRODUCT_PACKAGES = ("bot", "core", "skills", "manifest")


def _import_all() -> None:
    """Import every product module, so that every settings class has registered itself."""
    for name in PRODUCT_PACKAGES:
        pkg = importlib.import_module(name)
        for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if ".migrations" in mod.name or mod.name.endswith("__main__"):
                continue
            importlib.import_module(mod.name)


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


SECTION_ORDER = ("bot", "storage", "llm", "guard", "graph", "observability", "news", "drafting", "qa", "search", "kintone",
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
    product = tuple(p + "." for p in PRODUCT_PACKAGES)
    for cls in sorted((c for c in registered_settings() if c.__module__.startswith(product)), key=_order):
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
