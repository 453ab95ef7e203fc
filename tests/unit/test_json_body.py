"""The request body parser: orjson, and the nesting limit read from the raw bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.http.json_body import deeper_than, json_depth, loads

# Strings full of what the scan must not take for structure: brackets, quotes, backslash runs.
_TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('[]{}"\\\\/ nué\u2028')), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TRICKY_TEXT, children, max_size=4),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, limit=st.integers(min_value=0, max_value=12), ascii_only=st.booleans())
def test_raw_scan_agrees_with_the_walk_of_the_parsed_value(value: object, limit: int, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert deeper_than(raw, limit) == (json_depth(value) > limit)


@pytest.mark.parametrize("depth", [1, 2, 63, 64, 65, 66, 500])
def test_nesting_at_the_limit(depth: int) -> None:
    raw = ("[" * depth + "]" * depth).encode()
    assert deeper_than(raw, 64) == (depth > 64)
    nested_objects = ('{"a":' * depth + "1" + "}" * depth).encode()
    assert deeper_than(nested_objects, 64) == (depth > 64)


def test_brackets_inside_strings_are_not_structure() -> None:
    raw = json.dumps({"text": "[" * 100 + '\\"{' * 50, "escaped": "\\" * 7 + "[[["}).encode()
    assert json_depth(json.loads(raw)) == 1
    assert not deeper_than(raw, 1)
    assert deeper_than(raw, 0)


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b"[-Infinity]", b"[1e400]", b'"\\ud800"', b"[1,]",
                                 "{}".encode("utf-16"), b"\xff"])
def test_what_is_not_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads(raw)


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    assert loads(b'\xef\xbb\xbf{"hook": "order-sign"}') == {"hook": "order-sign"}
