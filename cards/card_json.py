"""Cards as the CDS client receives them: JSON dicts built directly, with no per-call validation.

The models in :mod:`cards.model` state the CDS Hooks 2.0 card schema.
Building and validating them on every call, then dumping and pruning them,
cost more than the card text did, for cards whose shape is fixed by this
code.  So the hot path writes the JSON itself, in the models' field order and
without null or empty elements (spec §Use of JSON), and the guarantee moves
to the tests: every fixture's cards, as built here, validate against the
models and the schema and come back from them unchanged
(tests/unit/test_card_json.py).  The one constraint that depends on the
call's data, the summary's length, is still checked on every card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from cards.model import SOURCE_LABEL, TOPIC_SYSTEM, Card, checked_summary

Json = dict[str, Any]
Indicator = Literal["info", "warning", "critical"]


@dataclass(slots=True)
class CardJson:
    """One card's JSON (``json``), and what the service reads off it (audit, metrics, links)."""

    json: Json

    @property
    def uuid(self) -> str:
        return self.json["uuid"]

    @property
    def indicator(self) -> Indicator:
        return self.json["indicator"]

    @property
    def topic(self) -> str:
        return self.json["source"]["topic"]["code"]

    @property
    def detail(self) -> str | None:
        return self.json.get("detail")

    @property
    def extension(self) -> Json | None:
        return self.json.get("extension")

    def add_link(self, link: Json) -> None:
        """Append a link, keeping the models' field order (links come before the extension)."""
        links = self.json.setdefault("links", [])
        links.append(link)
        if "extension" in self.json:
            self.json["extension"] = self.json.pop("extension")

    def to_json(self) -> Json:
        return self.json

    def model(self) -> Card:
        """The card as the validated model (raises ValueError if the JSON breaks the schema)."""
        return Card.model_validate(self.json)


#: RFC 4122 version 4, in hex: the 13th digit is the version (4); the 17th holds the variant (binary
#: 10) in its top two bits, so a random digit d becomes 8 + d % 4
_VARIANT_DIGIT = {f"{d:x}": f"{8 + d % 4:x}" for d in range(16)}


def _new_uuid() -> str:
    """A random (version 4) UUID, as str(uuid.uuid4()) writes it and from the same source (os.urandom):
    built without the uuid.UUID object, whose checks and properties cost ten times the random bytes."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


def card(
    *,
    summary: str,
    detail: str | None,
    indicator: Indicator,
    source: Json,
    suggestions: list[Json],
    selection_behavior: Literal["at-most-one", "any"] | None,
    override_reasons: list[Json],
    extension: Json,
) -> CardJson:
    """A card (the fields of :class:`cards.model.Card`, in its order, empty ones left out)."""
    out: Json = {"uuid": _new_uuid(), "summary": checked_summary(summary)}
    if detail:
        out["detail"] = detail
    out["indicator"] = indicator
    out["source"] = source
    if suggestions:
        out["suggestions"] = suggestions
    if selection_behavior is not None:
        out["selectionBehavior"] = selection_behavior
    if override_reasons:
        out["overrideReasons"] = override_reasons
    if extension:
        out["extension"] = extension
    return CardJson(out)


def source(topic: str, url: str | None) -> Json:
    """Card source: the service, the primary source's URL, the topic (:class:`cards.model.Source`)."""
    out: Json = {"label": SOURCE_LABEL}
    if url:
        out["url"] = url
    out["topic"] = {"system": TOPIC_SYSTEM, "code": topic, "display": topic}
    return out


def suggestion(label: str, actions: list[Json], recommended: bool) -> Json:
    """A suggestion (:class:`cards.model.Suggestion`); isRecommended is stated either way."""
    out: Json = {"label": label} if label else {}
    out["uuid"] = _new_uuid()
    out["isRecommended"] = recommended
    if actions:
        out["actions"] = actions
    return out


def create(description: str, resource: Json) -> Json:
    """A create action carrying its draft resource (:class:`cards.model.Action`).

    ``resource`` as it goes out: its builder leaves no element empty (see cards.suggestions)."""
    out: Json = {"type": "create"}
    if description:
        out["description"] = description
    out["resource"] = resource
    return out


def link(label: str, url: str, link_type: Literal["absolute", "smart"], app_context: str | None) -> Json:
    """A link (:class:`cards.model.Link`)."""
    out: Json = {"label": label, "url": url, "type": link_type}
    if app_context:
        out["appContext"] = app_context
    return out
