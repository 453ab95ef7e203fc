"""FHIR R4 fixture patients (transaction Bundles) and example hook requests.

``patients/<scenario>.json``: one patient per file, PUT entries with fixed
ids, loadable into any FHIR R4 server.  ``requests/<name>.json``: hook
requests shaped like an EHR's (and a few like the CDS Hooks sandbox's).
Dates are anchored at :data:`fhir_fixtures.dates.ANCHOR`; pass ``today`` to
get them shifted so results keep their age.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from typing import Any

from fhir_fixtures.dates import ANCHOR, shift_dates

__all__ = ["ANCHOR", "load_bundle", "load_request", "request_names", "scenario_names"]


def _dir(kind: str) -> Any:
    return resources.files(__package__).joinpath(kind)


def _names(kind: str) -> list[str]:
    return sorted(p.name[:-5] for p in _dir(kind).iterdir() if p.name.endswith(".json"))


def scenario_names() -> list[str]:
    """Patient scenarios (``patients/*.json``)."""
    return _names("patients")


def request_names() -> list[str]:
    """Hook request examples (``requests/*.json``)."""
    return _names("requests")


def _load(kind: str, name: str, today: date | None) -> Any:
    data = json.loads(_dir(kind).joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return shift_dates(data, today) if today else data


def load_bundle(name: str, today: date | None = None) -> dict[str, Any]:
    """A patient's transaction Bundle (dates shifted to ``today`` if given)."""
    return _load("patients", name, today)  # type: ignore[no-any-return]


def load_request(name: str, today: date | None = None) -> dict[str, Any]:
    """A hook request (dates shifted to ``today`` if given)."""
    return _load("requests", name, today)  # type: ignore[no-any-return]
