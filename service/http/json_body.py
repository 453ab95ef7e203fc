"""Parse a request body with orjson, nesting limit included.

A hostile body can nest arrays thousands deep; the rules walk what they are
given, so depth is capped (``Settings.max_json_depth``, 64).  Walking the
parsed object once more to measure it cost as much as parsing.  Two ways,
each where it costs less:

- A large body (a heavy chart's prefetch, a megabyte) is parsed inside
  1,024 - limit arrays of ours: orjson refuses nesting beyond 1,024 levels on
  its own (its documented limit), so its limit is then exactly the service's,
  checked as it parses, whatever the size.  Those arrays must stay ours: a text
  that is not one JSON value could close some of them and open others
  (``1],[2``), or fill one with nothing or several values, so each must hold
  exactly one element.  Parsing and freeing the nine hundred arrays costs
  about as much as the scan below of 60 KB.
- A small body (a seed chart's twenty kilobytes) has its raw bytes scanned
  instead, in C: escapes and every byte but quotes and brackets deleted,
  strings dropped (empty ones, as nearly all are then, in one pass), then
  innermost ``{}`` pairs removed once per level, stopping after ``limit``
  levels.  About 23 instructions a byte: a third of the parse on a heavy chart.
"""

from __future__ import annotations

import codecs
from typing import Any

import orjson

#: nesting orjson parses (a 1,025th level is refused); tests/unit/test_json_body.py holds it to its word
ORJSON_MAX_DEPTH = 1024
#: bodies from this size are parsed inside the padding arrays, smaller ones scanned (see module docstring)
PADDED_FROM_BYTES = 64 * 1024

#: "[" and "]" become "{" and "}"; every other byte but these and the quote is deleted
_BRACES = bytes.maketrans(b"[]", b"{}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b'[]{}"')


class TooDeep(ValueError):
    """The body is JSON, nested deeper than the limit."""


def loads(raw: bytes, max_depth: int | None = None) -> Any:
    """The parsed body.  ValueError if it is not JSON: RFC 8259 has no NaN or Infinity (nor a
    number that overflows to one), and JSON between systems is UTF-8 (a leading byte order
    mark is tolerated, as RFC 8259 §8.1 allows); nesting beyond orjson's own limit of 1,024
    levels is refused too.  :class:`TooDeep` if it nests more than ``max_depth`` levels (the
    outermost object is level 1, scalars add none, as :func:`json_depth` counts).  Integers
    beyond 64 bits come back as floats."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    if max_depth is not None and max_depth < ORJSON_MAX_DEPTH and len(raw) >= PADDED_FROM_BYTES:
        return _padded_loads(raw, max_depth)
    value = orjson.loads(raw)
    if max_depth is not None and deeper_than(raw, max_depth):
        raise TooDeep(f"nested deeper than {max_depth} levels")
    return value


def _padded_loads(raw: bytes, max_depth: int) -> Any:
    """:func:`loads` by orjson's own limit, moved to ``max_depth`` by arrays around the body."""
    padding = ORJSON_MAX_DEPTH - max_depth
    try:
        value = orjson.loads(b"".join((b"[" * padding, raw, b"]" * padding)))
    except orjson.JSONDecodeError:
        orjson.loads(raw)  # not JSON: raises (a body refused pays a second parse)
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
    for _ in range(padding):
        if type(value) is not list or len(value) != 1:
            raise ValueError("not one JSON value")  # it closed some of our arrays, or left one empty
        value = value[0]
    return value


def deeper_than(raw: bytes, limit: int) -> bool:
    """Whether valid JSON ``raw`` nests objects and arrays more than ``limit`` levels deep.

    Depth as :func:`json_depth` counts it: the outermost object is level 1, scalars add none."""
    # Escapes first (valid JSON has backslashes only inside strings, and a run of them pairs up
    # from its start): then every quote left delimits a string, and its brackets go with it.
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(_BRACES, _NOT_BRACKET)  # quotes, and "{" for every opening bracket
    if marks.count(b"{") <= limit:
        return False  # too few containers to nest that deep (most small bodies)
    # Dropping two adjacent quotes leaves every bracket behind as many quotes as before, less an
    # even number: inside a string or outside as it was.  So the strings without brackets (nearly
    # all) go in one pass, and only those with brackets in them are left to split out.
    marks = marks.replace(b'""', b"")
    # Between two quotes is a string, so every other piece is outside all strings.
    brackets = b"".join(marks.split(b'"')[::2]) if b'"' in marks else marks
    for passes in range(limit):
        # What is left nests at most half its length deeper (a seed body: 5 passes, not 11).
        if len(brackets) <= 2 * (limit - passes):
            return False
        # Each pass removes the innermost level: only the pairs that were adjacent before it.
        brackets = brackets.replace(b"{}", b"")
    return bool(brackets)


def json_depth(value: Any, stop_at: int | None = None) -> int:
    """Nesting depth of parsed JSON, without recursion (the reference both ways of :func:`loads` are tested
    against; stops early once deeper than ``stop_at``)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        if depth > deepest:
            deepest = depth
            if stop_at is not None and deepest > stop_at:
                return deepest
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
    return deepest
