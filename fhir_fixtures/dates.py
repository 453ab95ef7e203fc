"""Fixture dates are written as if today were ANCHOR; shift them to any day.

Results "3 months ago" must stay 3 months old whenever the tests run, so
every full date or dateTime string is moved by (today - ANCHOR).  Year-only
and year-month strings keep their precision and are left alone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

ANCHOR = date(2026, 11, 1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?$")


def _shift_string(value: str, delta: timedelta) -> str:
    if _DATE.match(value):
        return (date.fromisoformat(value) + delta).isoformat()
    m = _DATETIME.match(value)
    if m:
        day = (date.fromisoformat(m.group(1)) + delta).isoformat()
        return f"{day}T{m.group(2)}{m.group(3) or ''}"
    return value


def shift_dates(obj: Any, today: date | None = None) -> Any:
    """A deep copy of ``obj`` with every full date/dateTime moved by today - ANCHOR."""
    delta = (today or ANCHOR) - ANCHOR
    if not delta:
        return _copy(obj)
    return _walk(obj, delta)


def _walk(obj: Any, delta: timedelta) -> Any:
    if isinstance(obj, dict):
        return {k: _walk(v, delta) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk(v, delta) for v in obj]
    if isinstance(obj, str) and len(obj) >= 10 and obj[4] == "-":
        return _shift_string(obj, delta)
    return obj


def _copy(obj: Any) -> Any:
    return _walk(obj, timedelta(0)) if isinstance(obj, dict | list) else obj


def days_before(n: int) -> str:
    """ISO date ``n`` days before ANCHOR (for writing fixtures)."""
    return (ANCHOR - timedelta(days=n)).isoformat()


def datetime_before(n: int, hour: int = 9) -> str:
    d = ANCHOR - timedelta(days=n)
    return datetime(d.year, d.month, d.day, hour, 0, 0).isoformat() + "Z"
