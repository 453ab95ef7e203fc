"""Parse a request body: orjson, and the nesting limit checked on the raw bytes.

A hostile body can nest arrays thousands deep; the rules walk what they are
given, so depth is capped (``Settings.max_json_depth``, 64).  Walking the parsed
object once more to measure it cost as much as parsing; here the bytes are
scanned instead, in C: escapes and every byte but quotes and brackets
deleted, strings dropped (empty ones, as nearly all are then, in one pass),
then innermost ``{}`` pairs removed once per level, stopping after ``limit``
levels.
"""

from __future__ import annotations

import codecs
from typing import Any

import orjson

#: "[" and "]" become "{" and "}"; every other byte but these and the quote is deleted
_BRACES = bytes.maketrans(b"[]", b"{}")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b'[]{}"')


def loads(raw: bytes) -> Any:
    """The parsed body.  ValueError if it is not JSON: RFC 8259 has no NaN or Infinity (nor a
    number that overflows to one), and JSON between systems is UTF-8 (a leading byte order
    mark is tolerated, as RFC 8259 §8.1 allows); nesting beyond orjson's own limit of 1,024
    levels is refused too.  Integers beyond 64 bits come back as floats."""
    return orjson.loads(raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw)


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
    for _ in range(limit):
        if not brackets:
            return False
        # Each pass removes the innermost level: only the pairs that were adjacent before it.
        brackets = brackets.replace(b"{}", b"")
    return bool(brackets)


def json_depth(value: Any, stop_at: int | None = None) -> int:
    """Nesting depth of parsed JSON, without recursion (the reference :func:`deeper_than` is tested
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
