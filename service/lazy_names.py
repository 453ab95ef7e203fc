"""Package names loaded on first use (PEP 562), so that importing a package loads only what is used.

A gunicorn worker imports ``service.store`` for AuditEntry and ``service.security`` for
its hooks; with JWT off or the audit sent to the writer process, the database and crypto
libraries behind the other names are never loaded (about 40 MB per worker).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` is read from its module on first use."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
