"""Validate CDS Hooks payloads against the project's schema (and the no-empty-values rule)."""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from service.hooks.schema import definition

_VALIDATORS: dict[str, Draft202012Validator] = {}


def _validator(kind: str) -> Draft202012Validator:
    if kind not in _VALIDATORS:
        _VALIDATORS[kind] = Draft202012Validator(
            definition(kind), format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return _VALIDATORS[kind]


def empty_values(value: Any, path: str = "$") -> list[str]:
    """Paths of null/empty elements (CDS Hooks §Use of JSON forbids them)."""
    found = []
    if value is None or value == "" or value == [] or value == {}:
        return [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += empty_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += empty_values(v, f"{path}[{i}]")
    return found


def assert_valid(kind: str, payload: Any) -> None:
    """Raise AssertionError naming every schema violation of ``payload``."""
    errors = sorted(_validator(kind).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{kind}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10]
    )
    if kind == "response" and payload == {"cards": []}:
        return  # the one empty value the spec allows
    empties = empty_values(payload)
    assert not empties, f"{kind}: null or empty values at {empties[:10]}"


def validate_cds_exchange(path: str, method: str, status: int, body: Any) -> None:
    """Validate a response of the service by route (used by the test client)."""
    if status != 200 or body is None:
        return
    parts = path.rstrip("/").split("/")
    if method == "GET" and path.rstrip("/").endswith("/cds-services"):
        assert_valid("discovery", body)
    elif method == "POST" and len(parts) >= 3 and parts[-2] == "cds-services":
        assert_valid("response", body)


__all__ = ["assert_valid", "jsonschema", "validate_cds_exchange"]
