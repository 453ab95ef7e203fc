"""md_escape: one str.translate per value, equal to the two regular expressions it replaced."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.render import md_escape

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")


def _by_regex(text: str) -> str:
    """The escaping as the card templates first did it."""
    return _LINE_BREAK.sub(" ", _SPECIAL.sub(r"\\\1", text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\`*_{}[]<>|#!~\r\n\x0b\x0c\x85\u2028\u2029 aé-.()")) | st.characters()))
def test_translate_equals_the_regex_escaping(text: str) -> None:
    assert md_escape(text) == _by_regex(text)


def test_crlf_is_one_space_and_numbers_pass_through() -> None:
    assert md_escape("a\r\nb\n\rc") == "a b  c"
    assert md_escape(3) == 3
    assert md_escape(None) == ""
    assert md_escape(["<b>"]) == "\\['\\<b\\>'\\]"  # a list from a broken feed is escaped text too
