"""Clinical knowledge as data: value sets, regimens, thresholds, citations.

Each YAML file in this folder is one topic; every entry names its source
(label section, guideline DOI, payer policy, or the research note
``shared/reference/clinical-rules.md`` section that verified a code).
Rules read these files through :func:`load`, never hard-code codes or
numbers.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> Any:
    """The parsed content of ``service/knowledge/<name>.yaml`` (cached)."""
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def citations() -> dict[str, dict[str, Any]]:
    """All citations by id, merged from every ``citations*.yaml`` file."""
    merged: dict[str, dict[str, Any]] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.startswith("citations") and entry.name.endswith(".yaml"):
            for cid, data in (yaml.safe_load(entry.read_text(encoding="utf-8")) or {}).items():
                if cid in merged:
                    raise ValueError(f"citation id {cid!r} defined twice")
                merged[cid] = data
    return merged
