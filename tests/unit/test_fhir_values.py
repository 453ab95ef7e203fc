"""The lenient FHIR readers: a bad value costs one datum, never the evaluation (found by test_properties)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.clinical.fhir_values import (
    codes_of,
    codings,
    finite_number,
    parse_datetime,
    quantity,
    status_of,
    with_usable_id,
)
from service.clinical.labs import LOINC, loinc_codes


@pytest.mark.parametrize("value", [
    "2026-01-01T00:00:00+24:00",   # not an offset: timezone() raised ValueError
    "2026-01-01T00:00:00+99:99",
    "2026-01-01T00:00:00+12:60",
    "0001-01-01T00:00:00+14:00",   # before year 1 in UTC: astimezone() raised OverflowError
    "9999-12-31T23:59:59-14:00",   # after 9999 in UTC
    "2026-13-45", "2026-02-30", "0000-01-01", "yesterday", 2026, None,
    # ISO 8601 to fromisoformat, not FHIR: a week date, a space for the T, a lower-case z, other digits
    "2026-W10-1", "2026-03-05 10:00:00Z", "2026-03-05T10:00:00z", "२०२६-03-05", "२०२६",
])
def test_unreadable_dates_are_none(value):
    assert parse_datetime(value) is None


@pytest.mark.parametrize(("value", "expected"), [
    ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-03", datetime(2026, 3, 1, tzinfo=UTC)),
    ("2026-03-04T10:00:00+05:30", datetime(2026, 3, 4, 4, 30, tzinfo=UTC)),
    ("2026-03-04T10:00:00-23:59", datetime(2026, 3, 5, 9, 59, tzinfo=UTC)),
    ("0001-01-01T12:00:00+11:00", datetime(1, 1, 1, 1, 0, tzinfo=UTC)),
])
def test_readable_dates(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", [10**400, -(10**400), math.inf, -math.inf, math.nan, True, "5", None, [5]])
def test_finite_number_refuses_what_a_float_cannot_hold(value):
    assert finite_number(value) is None


@given(st.floats() | st.integers() | st.integers(10**300, 10**400) | st.booleans() | st.text(max_size=3) | st.none())
def test_finite_number_is_the_finite_float_of_a_json_number(value):
    expected = None
    if type(value) in (int, float):
        try:
            expected = float(value) if math.isfinite(float(value)) else None
        except OverflowError:  # an integer beyond the largest float
            pass
    assert finite_number(value) == expected
    assert finite_number(value) is None or type(finite_number(value)) is float


def test_finite_number_keeps_numbers():
    assert finite_number(2**63) == float(2**63) and finite_number(-0.5) == -0.5


def test_quantity_with_a_huge_integer_is_none():
    # Regression: float(10**400) raised OverflowError in the IgG rule.
    assert quantity({"valueQuantity": {"value": 10**400, "unit": "mg/dL"}}) is None
    assert quantity({"valueQuantity": {"value": 350, "unit": "mg/dL"}}) == (350.0, "mg/dL")


def test_status_of_ignores_non_strings():
    # Regression: a list status made "status in {...}" raise TypeError (unhashable).
    assert status_of({"status": ["final"]}) is None
    assert status_of({"status": "final"}) == "final"


@pytest.mark.parametrize("rid", [["x"], {"a": 1}, 5, True, ""])
def test_with_usable_id_drops_ids_that_are_not_strings(rid):
    resource = {"resourceType": "Condition", "id": rid, "code": {"text": "x"}}
    assert with_usable_id(resource) == {"resourceType": "Condition", "code": {"text": "x"}}
    assert resource["id"] == rid  # the input is not changed


def test_with_usable_id_keeps_good_ids_without_copying():
    resource = {"resourceType": "Condition", "id": "c1"}
    assert with_usable_id(resource) is resource



_SCALAR = st.none() | st.integers(0, 2) | st.sampled_from(["", "718-7", "2465-3", LOINC, "http://local", "x"])
_CODING = st.fixed_dictionaries({}, optional={"system": _SCALAR, "code": _SCALAR, "display": _SCALAR}) | _SCALAR
_CONCEPT = st.fixed_dictionaries({}, optional={"coding": st.lists(_CODING, max_size=3) | _CODING, "text": _SCALAR})


@settings(max_examples=500, deadline=None)
@given(_CONCEPT | st.lists(_CONCEPT, max_size=2) | _SCALAR)
def test_the_lab_index_reads_observation_codes_as_codings_does(code: object) -> None:
    """labs.loinc_codes inlines codings() for speed: the same codes read, whatever shape the code has."""
    expected = [c for s, c, _ in codings(code) if not s or s == LOINC]
    assert loinc_codes(code) == (expected or None)


def _parse_from_groups(value: object) -> datetime | None:
    """parse_datetime as it was before it handed the checked text to fromisoformat: the oracle."""
    from datetime import timedelta, timezone

    from service.clinical.fhir_values import _DATE_RE

    if not isinstance(value, str):
        return None
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    year, month, day, hh, mm, ss, tz = m.groups()
    try:
        dt = datetime(int(year), int(month or 1), int(day or 1), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    if tz and tz != "Z":
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = timezone((1 if tz[0] == "+" else -1) * timedelta(hours=hours, minutes=minutes))
        try:
            return dt.replace(tzinfo=offset).astimezone(UTC)
        except OverflowError:
            return None
    return dt.replace(tzinfo=UTC)


def _two_digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


# FHIR-shaped text with out-of-range fields mixed in: day 30 of February, hour 24, second 60, offsets
# of +24:00 or +12:60, years 0001 and 9999 next to the extreme offsets, fractions of any length.
_FHIR_DATES = st.builds(
    lambda year, month, day, hh, mm, ss, fraction, tz, depth, pad: pad + "".join(
        [f"{year:04d}", f"-{month}", f"-{day}", f"T{hh}:{mm}", f":{ss}{fraction}", tz][:depth]) + pad,
    st.sampled_from([1, 2, 1999, 2024, 2026, 9999]) | st.integers(0, 9999),
    _two_digits(0, 13), _two_digits(0, 32), _two_digits(0, 25), _two_digits(0, 61), _two_digits(0, 61),
    st.sampled_from(["", ".0", ".123", ".1234567890"]),
    st.sampled_from(["", "Z", "+00:00", "-00:00", "+05:30", "-14:00", "+14:00", "+23:59", "+24:00", "+12:60"]),
    st.integers(1, 6), st.sampled_from(["", " "]),
)


# The two shapes parse_datetime reads without its pattern ("2024-03-05T10:00:00Z", "2024-03-05"), with
# some characters swapped for others: other digits (Arabic-Indic, full-width), signs, spaces, letters,
# another separator ("2024-03-05 10:00:00Z" is ISO 8601 to fromisoformat, not FHIR).
_ODD = " +-.:T_Zz\u0660\u0969\uff10\uff19xW,"


def _swapped(text: str, swaps: list[tuple[int, str]]) -> str:
    chars = list(text)
    for place, char in swaps:
        chars[place % len(chars)] = char
    return "".join(chars)


def _shaped(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``text`` with up to two characters swapped for odd ones."""
    return st.builds(_swapped, text, st.lists(st.tuples(st.integers(0, 19), st.sampled_from(_ODD)), max_size=2))


_FAST_SHAPES = _shaped(
    st.builds(lambda y, m, d, hh, mm, ss: f"{y:04d}-{m}-{d}T{hh}:{mm}:{ss}Z", st.integers(0, 9999),
              _two_digits(0, 13), _two_digits(0, 32), _two_digits(0, 25), _two_digits(0, 61), _two_digits(0, 61))
    | st.builds(lambda y, m, d: f"{y:04d}-{m}-{d}", st.integers(0, 9999), _two_digits(0, 13), _two_digits(0, 32)))


@settings(max_examples=3000)
@given(_FHIR_DATES | _FAST_SHAPES | st.text(max_size=30) | st.none() | st.integers())
@example(" 0001-01-01 ")  # a padded date of year 1: once read as local time, then moved to year 0
def test_parse_datetime_answers_like_building_from_the_groups(value):
    # The fast readings (fromisoformat on the checked text, the two common shapes without the pattern)
    # must agree with the field-by-field one, including which texts they refuse, and answer in UTC.
    parsed = parse_datetime(value)
    assert parsed == _parse_from_groups(value)
    assert parsed is None or parsed.tzinfo is UTC


_ODD_VALUE = st.sampled_from([None, 0, 2, "", "x", [], {}])
_STATUS_CODING = st.fixed_dictionaries(
    {}, optional={"code": st.sampled_from(["active", "refuted", "entered-in-error", "resolved", 5]) | _ODD_VALUE,
                  "system": st.sampled_from(["http://terminology.hl7.org/CodeSystem/condition-clinical", ""])
                  | _ODD_VALUE, "display": _ODD_VALUE},
) | _ODD_VALUE
_STATUS_CONCEPT = st.fixed_dictionaries({}, optional={"coding": st.lists(_STATUS_CODING, max_size=3) | _STATUS_CODING,
                                                      "text": _ODD_VALUE}) | _ODD_VALUE


@settings(max_examples=500)
@given(_STATUS_CONCEPT | st.lists(_STATUS_CONCEPT, max_size=3))
def test_codes_of_reads_the_codes_codings_reads(concept):
    # Status checks read only the codes (no systems, no displays): the same codes, in the same order.
    assert codes_of(concept) == [code for _, code, _ in codings(concept)]


def test_a_padded_date_is_midnight_utc_whatever_the_servers_time_zone(monkeypatch):
    # A date that misses the fast path (padded) must not be read in the server's local time zone.
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_datetime(" 2024-03-05 ") == datetime(2024, 3, 5, tzinfo=UTC)
        assert parse_datetime(" 2024-03 ") == datetime(2024, 3, 1, tzinfo=UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
