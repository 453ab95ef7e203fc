"""Build CDS cards from findings.

A card only where a clinician has something to do or to know: ``pass``
findings make no card of their own (they feed composed cards such as the
medical-necessity summary).  Composers (``cards.compose``) may turn several
findings into one card; every other finding gets the generic card: its
summary, its topic prose (built in code, ``cards.topic_texts``, or a
template ``templates/<rule_id>.md.j2`` if one exists), then
(``cards.shell``) the data used, what was looked for and not found, and
numbered sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from cards import card_json
from cards.card_json import CardJson, Json
from cards.render import render, template_exists
from cards.shell import finding_markdown
from cards.suggestions import CardContext, finding_suggestions, only_alternatives
from cards.topic_texts import TOPIC_TEXTS
from service.clinical.findings import Finding
from service.knowledge import citations, load

__all__ = ["CardContext", "build_cards", "composer", "finding_card"]

_ORDER = {"critical": 0, "warning": 1, "info": 2}

#: A composer takes all findings and returns (cards, findings it consumed).
Composer = Callable[[list[Finding], CardContext], tuple[list[CardJson], list[Finding]]]
_COMPOSERS: list[Composer] = []


def composer(fn: Composer) -> Composer:
    """Register a composer (see module docstring)."""
    _COMPOSERS.append(fn)
    return fn


def cited(ids: Iterable[str]) -> list[dict[str, Any]]:
    """Citation entries for ids, in order, each once (unknown id: ValueError)."""
    registry = citations()
    out: list[dict[str, Any]] = []
    for cid in dict.fromkeys(ids):
        if cid not in registry:
            raise ValueError(f"unknown citation id {cid!r}")
        out.append({"id": cid, **registry[cid]})
    return out


def source_for(topic: str, citation_ids: Iterable[str] = ()) -> Json:
    """Card source: the service, its topic, and the primary source's URL if any."""
    return card_json.source(topic, primary_url(tuple(citation_ids)))


@cache
def primary_url(citation_ids: tuple[str, ...]) -> str | None:
    """The URL (or DOI link) of the first of these sources that has one (static data: once per process)."""
    for c in cited(citation_ids):
        url = c.get("url") or (f"https://doi.org/{c['doi']}" if c.get("doi") else None)
        if url:
            return url
    return None


def override_reasons(codes: Iterable[str], indicator: str) -> list[Json]:
    """Override reasons as Codings (knowledge/override_reasons.yaml states each field: none is empty)."""
    data = load("override_reasons")
    wanted = list(codes) or list(data["defaults"].get(indicator, []))
    return [{"system": data["system"], "code": c, "display": data["reasons"][c]} for c in wanted]


def finding_detail(finding: Finding, body: str | None = None) -> str:
    """The markdown detail of a card for one finding: ``body``, or its topic template's text, then the shell."""
    if body is None:
        name = f"{finding.rule_id}.md.j2"
        if (text := TOPIC_TEXTS.get(finding.rule_id)) is not None:
            body = text(finding.facts)
        else:
            body = render(name, f=finding, facts=finding.facts) if template_exists(name) else ""
    return finding_markdown(finding, body, finding.citations)


def finding_card(finding: Finding, ctx: CardContext) -> CardJson:
    """The generic card for one finding."""
    if finding.severity == "pass":
        raise ValueError("a pass finding has no card of its own")
    suggestions = finding_suggestions(finding, ctx)
    alternatives = only_alternatives(finding)
    return card_json.card(
        summary=finding.summary,
        detail=finding_detail(finding),
        indicator=finding.severity,  # not "pass": checked above
        source=source_for(finding.topic, finding.citations),
        suggestions=suggestions,
        selection_behavior=("at-most-one" if alternatives else "any") if suggestions else None,
        override_reasons=override_reasons(finding.override_reasons, finding.severity),
        extension=rule_extension([finding]),
    )


def rule_extension(findings: Iterable[Finding]) -> dict[str, Any]:
    """Card extension naming the rules behind it (feedback attribution)."""
    return {
        "urn:rituximab-cds:rules": [
            {"id": f.rule_id, "version": f.rule_version} for f in findings
        ]
    }


def build_cards(findings: list[Finding], ctx: CardContext) -> list[CardJson]:
    """All cards for a call, most urgent first."""
    remaining = list(findings)
    cards: list[CardJson] = []
    for compose in _COMPOSERS:
        made, consumed = compose(remaining, ctx)
        cards.extend(made)
        consumed_ids = {id(f) for f in consumed}
        remaining = [f for f in remaining if id(f) not in consumed_ids]
    cards.extend(finding_card(f, ctx) for f in remaining if f.severity != "pass")
    return sorted(cards, key=lambda c: _ORDER[c.indicator])
