"""The request body parser: orjson, and the nesting limit both ways (raw-bytes scan, padded parse).

Every test of the limit runs both ways (``way``): bodies from
``PADDED_FROM_BYTES`` on are parsed inside padding arrays, smaller ones
scanned; here the threshold is moved so that each way reads every body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.http import json_body
from service.http.json_body import ORJSON_MAX_DEPTH, TooDeep, deeper_than, json_depth, loads

WAYS = ("scan", "padded")
way = st.sampled_from(WAYS)


@contextmanager
def reading(how: str) -> Iterator[None]:
    """Every body read the way named, whatever its size."""
    with mock.patch.object(json_body, "PADDED_FROM_BYTES", 0 if how == "padded" else 1 << 62):
        yield

# Strings full of what a bracket count must not take for structure: brackets, quotes, backslash runs.
_TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('[]{}"\\\\/ nué\u2028')), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TRICKY_TEXT, children, max_size=4),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, limit=st.integers(min_value=0, max_value=12), ascii_only=st.booleans(), how=way)
def test_the_limit_agrees_with_the_walk_of_the_parsed_value(value: object, limit: int, ascii_only: bool,
                                                           how: str) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert deeper_than(raw, limit) == (json_depth(value) > limit)
    with reading(how):
        if json_depth(value) > limit:
            with pytest.raises(TooDeep):
                loads(raw, max_depth=limit)
        else:
            assert loads(raw, max_depth=limit) == orjson.loads(raw)


#: pieces of JSON text, most of them unbalanced: what could close the arrays the body is parsed in and open others
_PIECE = st.sampled_from(["[", "]", "{", "}", ",", ":", '"a"', "1", "null", " ", "\n", '"]"', "[]", "{}", '{"a":'])


@settings(max_examples=1500, deadline=None)
@given(text=st.lists(_PIECE, max_size=10).map("".join), limit=st.integers(min_value=0, max_value=4), how=way)
def test_any_text_is_read_as_orjson_reads_it_alone(text: str, limit: int, how: str) -> None:
    """Only one JSON value comes back: nothing in the text can reach outside the padding, or make nothing valid."""
    raw = text.encode()
    try:
        expected = orjson.loads(raw)
    except orjson.JSONDecodeError:
        with reading(how), pytest.raises(ValueError) as refused:
            loads(raw, max_depth=limit)
        assert not isinstance(refused.value, TooDeep)
        return
    with reading(how):
        if json_depth(expected) > limit:
            with pytest.raises(TooDeep):
                loads(raw, max_depth=limit)
        else:
            assert loads(raw, max_depth=limit) == expected


@pytest.mark.parametrize("how", WAYS)
@pytest.mark.parametrize("depth", [1, 2, 63, 64, 65, 66, 500])
def test_nesting_at_the_limit(depth: int, how: str) -> None:
    for raw in (("[" * depth + "]" * depth).encode(), ('{"a":' * depth + "1" + "}" * depth).encode()):
        with reading(how):
            if depth > 64:
                with pytest.raises(TooDeep):
                    loads(raw, max_depth=64)
            else:
                assert json_depth(loads(raw, max_depth=64)) == depth


@pytest.mark.parametrize("how", WAYS)
@pytest.mark.parametrize(("siblings", "depth"), [(0, 64), (0, 65), (40, 64), (40, 65), (400, 64), (400, 65)])
def test_one_deep_branch_among_shallow_siblings(siblings: int, depth: int, how: str) -> None:
    # The scan stops once what is left is too short to nest past the limit: the deep branch is the
    # whole answer, however many shallow containers come before and after it.
    shallow = [[{"a": [1]}] for _ in range(siblings)]
    deep: object = 1
    for _ in range(depth - 1):
        deep = [deep]
    raw = json.dumps([*shallow, deep, *shallow]).encode()
    assert json_depth(json.loads(raw)) == depth
    with reading(how):
        if depth > 64:
            with pytest.raises(TooDeep):
                loads(raw, max_depth=64)
        else:
            assert loads(raw, max_depth=64) == json.loads(raw)


@pytest.mark.parametrize("how", WAYS)
@pytest.mark.parametrize("raw", [b"", b" \n", b"1,2", b"1],[2", b"]", b"[", b"[1]]", b"{}]", b'"a"],["b"'])
def test_what_would_close_the_parsers_arrays_is_not_json(raw: bytes, how: str) -> None:
    with reading(how), pytest.raises(ValueError) as refused:
        loads(raw, max_depth=64)
    assert not isinstance(refused.value, TooDeep)


@pytest.mark.parametrize("how", WAYS)
def test_brackets_inside_strings_are_not_structure(how: str) -> None:
    raw = json.dumps({"text": "[" * 100 + '\\"{' * 50, "escaped": "\\" * 7 + "[[["}).encode()
    assert json_depth(json.loads(raw)) == 1
    with reading(how):
        assert loads(raw, max_depth=1) == json.loads(raw)
        with pytest.raises(TooDeep):
            loads(raw, max_depth=0)


def test_orjson_refuses_what_it_says_it_refuses() -> None:
    """The limit rides on orjson's own: 1,024 levels parsed, a 1,025th refused (its README says so)."""
    assert json_depth(orjson.loads(b"[" * ORJSON_MAX_DEPTH + b"]" * ORJSON_MAX_DEPTH)) == ORJSON_MAX_DEPTH
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(b"[" * (ORJSON_MAX_DEPTH + 1) + b"]" * (ORJSON_MAX_DEPTH + 1))


@pytest.mark.parametrize("how", WAYS)
def test_past_the_parsers_own_limit_is_not_json(how: str) -> None:
    raw = b"[" * 5000 + b"]" * 5000
    with reading(how), pytest.raises(ValueError) as refused:
        loads(raw, max_depth=64)
    assert not isinstance(refused.value, TooDeep)


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b"[-Infinity]", b"[1e400]", b'"\\ud800"', b"[1,]",
                                 "{}".encode("utf-16"), b"\xff"])
@pytest.mark.parametrize("how", WAYS)
def test_what_is_not_json_is_refused(raw: bytes, how: str) -> None:
    for limit in (None, 64):
        with reading(how), pytest.raises(ValueError) as refused:
            loads(raw, max_depth=limit)
        assert not isinstance(refused.value, TooDeep)


@pytest.mark.parametrize("how", WAYS)
def test_a_utf8_byte_order_mark_is_tolerated(how: str) -> None:
    with reading(how):
        assert loads(b'\xef\xbb\xbf{"hook": "order-sign"}', max_depth=64) == {"hook": "order-sign"}
    assert loads(b'\xef\xbb\xbf{"hook": "order-sign"}') == {"hook": "order-sign"}


@pytest.mark.parametrize("how", WAYS)
def test_a_limit_past_the_parsers_own_leaves_the_parser_to_refuse(how: str) -> None:
    raw = b"[" * 1000 + b"]" * 1000
    with reading(how):
        assert json_depth(loads(raw, max_depth=2000)) == 1000
        with pytest.raises(ValueError):
            loads(b"[" * 1100 + b"]" * 1100, max_depth=2000)

