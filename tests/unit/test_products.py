"""Rituximab product recognition by name (clinical/products.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.clinical.products import _index, match_text
from service.knowledge import load

_NAMES = sorted({n for product in load("products")["products"].values() for n in product["names"]})
_WORDS = st.sampled_from([*_NAMES, "x", "prednisone", "-", " ", "mab", "rituximab-abbs", "non"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=5).map("".join))
def test_the_one_search_for_any_name_finds_what_the_search_name_by_name_finds(text: str) -> None:
    """match_text first asks one pattern of all names whether any is there: the answer must not change."""
    by_name = next((key for pattern, key in _index().names if pattern.search(text.lower())), None)
    assert match_text(text) == by_name
