"""Validate Adaptive Cards against the official 1.5 schema (../shared/testdata/schemas/adaptive-cards/1.5.0),
resolved locally (no network). Shared by the law and planning tests."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft6Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from tests.conftest import TESTDATA


@lru_cache(maxsize=1)
def _validator() -> Draft6Validator:
    path = Path(TESTDATA) / "schemas" / "adaptive-cards" / "1.5.0" / "adaptive-card.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    resource = Resource.from_contents(schema, default_specification=DRAFT6)
    registry = Registry().with_resource(schema.get("id", "urn:adaptive-card"), resource)
    return Draft6Validator(schema, registry=registry)


# Teams' host-specific `msteams` property (full width) is not in the generic schema, whose root forbids additional
# properties: Teams documents it, so it is removed before validation. Nothing else is relaxed.
HOST_EXTENSIONS = ("msteams",)


def _leaves(error) -> list:
    """The deepest errors under anyOf/allOf, so a message names the offending element instead of the whole card."""
    if not error.context:
        return [error]
    out = []
    for sub in error.context:
        out.extend(_leaves(sub))
    return out


def card_errors(card: dict) -> list[str]:
    doc = {k: v for k, v in card.items() if k not in HOST_EXTENSIONS}
    errors = list(_validator().iter_errors(doc))
    if not errors:
        return []
    leaves = [e for err in errors for e in _leaves(err)]
    deepest = max(len(e.absolute_path) for e in leaves)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in leaves
            if len(e.absolute_path) == deepest]


def assert_valid_card(card: dict) -> None:
    errors = card_errors(card)
    assert not errors, "\n".join(errors[:10])
