"""The project's JSON Schema for CDS Hooks 2.0 payloads (see the .json file)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def cds_hooks_schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("cds-hooks-2.0.schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return,unused-ignore]


def definition(name: str) -> dict[str, Any]:
    """A schema for one payload kind: discovery, request, response, feedback, card."""
    schema = cds_hooks_schema()
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}
