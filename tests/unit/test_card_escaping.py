"""Card text and JSON helpers rewritten for speed, against their first versions."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.render import md_escape, md_text, md_texts

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")


def _by_regex(text: str) -> str:
    """The escaping as the card templates first did it."""
    return _LINE_BREAK.sub(" ", _SPECIAL.sub(r"\\\1", text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\`*_{}[]<>|#!~\r\n\x0b\x0c\x85\u2028\u2029 aé-.()")) | st.characters()))
def test_translate_equals_the_regex_escaping(text: str) -> None:
    assert md_escape(text) == _by_regex(text)


_VALUE = st.one_of(st.text(alphabet=st.sampled_from(list("\\`*_[]<>|#\r\n\u2028 a-")), max_size=6),
                   st.none(), st.integers(), st.lists(st.text(max_size=2), max_size=2))


@settings(max_examples=500, deadline=None)
@given(st.lists(_VALUE, max_size=8))
def test_escaping_values_together_equals_escaping_each(values: list[object]) -> None:
    """md_texts scans a table's values in one pass: the same text as md_text value by value
    (CRLF split across two values, numbers and None among them)."""
    assert md_texts(list(values)) == [md_text(v) for v in values]


def test_crlf_is_one_space_and_numbers_pass_through() -> None:
    assert md_escape("a\r\nb\n\rc") == "a b  c"
    assert md_escape(3) == 3
    assert md_escape(None) == ""
    assert md_escape(["<b>"]) == "\\['\\<b\\>'\\]"  # a list from a broken feed is escaped text too


def _prune_as_first_written(value: object) -> object:
    if isinstance(value, dict):
        out = {k: _prune_as_first_written(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_prune_as_first_written(v) for v in value) if v not in (None, "", [], {})]
    return value


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-1, 1) | st.floats(allow_nan=False) | st.sampled_from(["", "x"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(_JSONISH)
def test_card_pruning_equals_its_first_version(value: object) -> None:
    """to_json's prune (no null or empty elements), rewritten for speed: the same result, 0 and False kept."""
    from cards.model import _prune

    assert _prune(value) == _prune_as_first_written(value)


def test_attribute_lookup_shortcut_reads_what_jinja_reads() -> None:
    """The card environment reads ``facts.name`` from a dict's keys first: only for names no dict
    attribute has, so a template sees what plain Jinja would (a key named like a method is not it)."""
    import jinja2

    from cards.render import environment

    plain = jinja2.Environment(finalize=md_escape, undefined=jinja2.StrictUndefined)
    source = "{{ d.state }} {{ d.items is callable }} {{ d.get('x') }} {{ d.missing is defined }} {{ o.real }}"
    values = {"d": {"state": "a*b", "items": 1, "x": 2}, "o": 3}
    assert environment().from_string(source).render(**values) == plain.from_string(source).render(**values)
    assert environment().from_string(source).render(**values) == "a\\*b True 2 False 3"


def test_the_ascii_scan_finds_what_the_full_scan_finds_in_ascii_text() -> None:
    """An ASCII string is scanned with the smaller character set: it must flag exactly the same
    characters (every line break and metacharacter below U+0080, nothing else)."""
    from cards.render import _ASCII_NEEDS_ESCAPE, _NEEDS_ESCAPE

    for code in range(128):
        char = chr(code)
        assert bool(_ASCII_NEEDS_ESCAPE.search(char)) == bool(_NEEDS_ESCAPE.search(char)), repr(char)
    assert _NEEDS_ESCAPE.search("\u2028") and not "\u2028".isascii()  # the full set keeps what ASCII cannot hold
