"""Findings -> CDS Hooks 2.0 cards.  Reads clinical findings only; no I/O, no Flask."""

from cards import compose_indication  # noqa: F401  (registers the summary composer)
from cards.builder import CardContext, build_cards
from cards.card_json import CardJson
from cards.model import Card

__all__ = ["Card", "CardContext", "CardJson", "build_cards"]
