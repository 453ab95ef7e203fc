"""Every card of every fixture scenario is byte-identical to the reference (tests/golden/cards.py)."""

from __future__ import annotations

import json

import pytest

from tests.golden.cards import GOLDEN, snapshot


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current() -> dict:
    return snapshot()


def test_every_scenario_is_covered(reference: dict, current: dict) -> None:
    assert sorted(current["cards"]) == sorted(reference["cards"])
    assert sum(len(c) for c in current["cards"].values()) >= 200  # every fixture's cards, four policies


def test_card_details_are_byte_identical(reference: dict, current: dict) -> None:
    for key, text in current["details"].items():
        assert reference["details"].get(key) == text, f"card detail changed:\n{text}"
    assert current["details"].keys() == reference["details"].keys()


@pytest.mark.parametrize("scenario", sorted(json.loads(GOLDEN.read_text(encoding="utf-8"))["cards"]))
def test_cards_are_byte_identical(reference: dict, current: dict, scenario: str) -> None:
    assert current["cards"][scenario] == reference["cards"][scenario]
