"""Typed CDS Hooks 2.0 card models (spec §CDS Service Response, §Card Attributes).

The spec's constraints are enforced here with ValueError (pydantic's
ValidationError is a ValueError), so an invalid card can never be built:

- "summary: One-sentence, <140-character summary message for display to the
  user inside of this card."
- "selectionBehavior ... MUST be provided if a card contains suggestions."
- "indicator: ... Allowed values, in order of increasing urgency, are: info,
  warning, critical."
- "overrideReasons: ... each Coding MUST include a display."
- §Use of JSON: "Data elements ... SHALL NOT be null or empty" -> :meth:`to_json`
  drops None and empty values.
"""

from __future__ import annotations

import json
import uuid as uuid_mod
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.clinical.findings import TOPICS

TOPIC_SYSTEM = "urn:rituximab-cds:topic"
SOURCE_LABEL = "Rituximab CDS"
#: The fields that say what a created resource orders (two creates alike in these are duplicates)
_WHAT = ("resourceType", "code", "medicationCodeableConcept", "performerType")


def _new_uuid() -> str:
    return str(uuid_mod.uuid4())


def checked_summary(summary: str) -> str:
    """The summary, if it is one short sentence's worth: non-blank and under 140 characters."""
    if not summary.strip():
        raise ValueError("summary must not be empty")
    if len(summary) >= 140:
        raise ValueError(f"summary must be under 140 characters (has {len(summary)})")
    return summary


#: the values the spec forbids as elements ("SHALL NOT be null or empty"); 0 and False are values
_EMPTY: tuple[Any, ...] = (None, "", [], {})
_CONTAINERS = (dict, list)


def _prune(value: Any) -> Any:
    """Drop None, "", [] and {} recursively (spec: no null or empty elements)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, _CONTAINERS):
                v = _prune(v)
            if v not in _EMPTY:
                out[k] = v
        return out
    if isinstance(value, list):
        return [v for v in (_prune(v) if isinstance(v, _CONTAINERS) else v for v in value) if v not in _EMPTY]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return _prune(self.model_dump(by_alias=True, exclude_none=True))  # type: ignore[no-any-return,unused-ignore]


class Coding(_Model):
    system: str | None = None
    code: str
    display: str | None = None


class Source(_Model):
    """"The source should be the primary source of guidance for the decision support."""

    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding

    @field_validator("topic")
    @classmethod
    def _topic_from_contract(cls, v: Coding) -> Coding:
        if v.system != TOPIC_SYSTEM or v.code not in TOPICS:
            raise ValueError(f"source.topic must be a {TOPIC_SYSTEM} code of {TOPICS}")
        return v

    @field_validator("url", "icon")
    @classmethod
    def _absolute(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("source url/icon must be absolute")
        return v


class Action(_Model):
    """"type: create, update, delete"; a create SHALL carry the new resource."""

    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _resource_for_create(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action must carry the resource")
        return self


class Suggestion(_Model):
    label: str
    uuid: str = Field(default_factory=_new_uuid)
    #: stated on every suggestion, True or False (some CDS clients require the field)
    isRecommended: bool = False
    actions: list[Action] = Field(default_factory=list)


class Link(_Model):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None

    @model_validator(mode="after")
    def _app_context_for_smart(self) -> Link:
        if self.appContext and self.type != "smart":
            raise ValueError("appContext is only for smart links")
        return self


class OverrideReason(Coding):
    display: str  # "each Coding MUST include a display"


class Card(_Model):
    uuid: str = Field(default_factory=_new_uuid)
    summary: str
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] = Field(default_factory=list)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideReason] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    #: card extension: rule ids and versions, for feedback attribution
    extension: dict[str, Any] | None = None

    @field_validator("summary")
    @classmethod
    def _short_summary(cls, v: str) -> str:
        return checked_summary(v)

    @model_validator(mode="after")
    def _selection_behavior(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required when a card has suggestions")
        def created(suggestions: list[Suggestion]) -> list[str]:
            return [json.dumps({k: v for k, v in a.resource.items() if k in _WHAT}, sort_keys=True)
                    for s in suggestions for a in s.actions if a.type == "create" and a.resource]

        for s in self.suggestions:
            if len(created([s])) != len(set(created([s]))):
                raise ValueError("a suggestion creates the same resource twice")
        everything = created(self.suggestions)
        if self.selectionBehavior == "any" and len(everything) != len(set(everything)):
            # "any" lets the clinician accept every suggestion: each order must exist once.
            # Alternatives over the same orders ("order all" or one of them) need at-most-one.
            raise ValueError("two suggestions of one card create the same resource under selectionBehavior any")
        if self.selectionBehavior == "at-most-one":
            if sum(1 for s in self.suggestions if s.isRecommended) > 1:
                raise ValueError("only one suggestion may be recommended with at-most-one")
        return self

    @property
    def topic(self) -> str:
        return self.source.topic.code
