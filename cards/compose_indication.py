"""The medical-necessity summary: one info card when the indication criteria are met.

It reads like a reviewer's assessment, generated from the findings: the
decision, the indication with its evidence, prior and concurrent therapy,
treatment history, the regimen, the safety work-up status, and numbered
sources.  When a criterion is not met there is no summary: the warning
cards say what is missing.
"""

from __future__ import annotations

from typing import Any

import pybase64

from cards import card_json
from cards.builder import composer, override_reasons, rule_extension, source_for
from cards.card_json import CardJson
from cards.necessity import necessity_markdown
from cards.shell import detail_sections, detail_text, detail_utf8
from cards.suggestions import CardContext
from service.clinical.findings import Finding

_PARTS = ("indication.documented", "indication.prerequisites", "indication.continuation",
          "indication.product", "dosing.regimen")
#: the summary of a group name too long for one under 140 characters
_LONG_GROUP_SUMMARY = "Rituximab criteria met (medical necessity summary)"
_SAFETY_TOPICS = ("hbv", "immunoglobulins", "tb", "hcv", "cbc", "vaccination", "hypersensitivity", "pregnancy",
                  "infection")

#: severities, least urgent first
_RANK = {"pass": 0, "info": 1, "warning": 2, "critical": 3}
#: a safety topic's status line, by its worst finding's severity
_STATUS_WORDS = {"pass": "done", "info": "advisory", "warning": "needs attention (see card)",
                 "critical": "CRITICAL (see card)"}


def _monitoring(findings: list[Finding]) -> list[dict[str, str | None]]:
    """Status of each safety topic from its findings (worst severity wins)."""
    status: dict[str, Finding] = {}
    for f in findings:
        if f.topic in _SAFETY_TOPICS and (f.topic not in status
                                          or _RANK[f.severity] > _RANK[status[f.topic].severity]):
            status[f.topic] = f
    # Each line carries the date of the newest result it rests on: "done" from 2021 reads differently.
    return [{"topic": t, "status": _STATUS_WORDS[status[t].severity], "summary": status[t].summary,
             "date": max((e.date for e in status[t].evidence if e.date), default=None)}
            for t in _SAFETY_TOPICS if t in status]


def _document_reference(markdown_utf8: bytes, ctx: CardContext) -> dict[str, Any]:
    """The assessment (its UTF-8) as a draft document; every element is set (the markdown is never empty)."""
    doc: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "preliminary",
        "type": {"text": "Rituximab medical necessity assessment"},
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "description": "Rituximab medical necessity assessment (CDS-generated draft for review)",
        "content": [{"attachment": {
            "contentType": "text/markdown",
            "title": "Rituximab medical necessity assessment",
            # the same text as base64.b64encode, from a vectorised encoder: the stdlib's cost a tenth of the card stage
            "data": pybase64.b64encode_as_string(markdown_utf8),
        }}],
    }
    if ctx.today:
        doc["date"] = f"{ctx.today}T00:00:00Z"
    if ctx.user_id and ctx.user_id.split("/")[0] in ("Practitioner", "PractitionerRole"):
        doc["author"] = [{"reference": ctx.user_id}]
    return doc


@composer
def medical_necessity_summary(findings: list[Finding], ctx: CardContext) -> tuple[list[CardJson], list[Finding]]:
    parts = {f.rule_id: f for f in findings if f.rule_id in _PARTS}
    documented = parts.get("indication.documented")
    if documented is None or documented.severity != "pass":
        return [], []
    if any(f.topic == "indication" and f.severity in ("warning", "critical") for f in findings):
        return [], []  # criteria not met: the warning cards carry it
    skipped = {r for f in findings if f.rule_id == "data-access" for r in f.facts.get("skipped_rules", ())}
    if skipped.intersection(_PARTS):
        return [], []  # a criterion was not checked (data-access card): "criteria met" would be a guess
    used = [f for f in parts.values() if f.severity == "pass"]
    facts = {rid: f.facts for rid, f in parts.items()}
    dosing = parts.get("dosing.regimen")
    summary_facts = {
        "parts": facts,
        "dosing_warning": bool(dosing and dosing.severity != "pass"),
        "monitoring": _monitoring(findings),
        "product": parts["indication.product"].facts.get("product") if "indication.product" in parts else None,
    }
    evidence = tuple(dict.fromkeys(e for f in used for e in f.evidence))
    citations = tuple(dict.fromkeys(c for f in used for c in f.citations))
    group = documented.facts["display"]
    # Only the card reads this text, evidence and sources: no Finding of its own is built for them.
    sections = detail_sections(necessity_markdown(summary_facts), evidence, (), citations)
    detail = detail_text(sections)
    save = card_json.suggestion(
        "Save this assessment to the chart (for prior authorization)",
        [card_json.create("Save the medical necessity assessment as a document",
                          _document_reference(detail_utf8(sections), ctx))],
        recommended=False,
    )
    card = card_json.card(
        summary=f"Rituximab criteria met for {group}" if len(group) < 100 else _LONG_GROUP_SUMMARY,
        detail=detail,
        indicator="info",
        source=source_for("indication", citations),
        suggestions=[save],
        selection_behavior="at-most-one",
        override_reasons=override_reasons((), "info"),
        extension=rule_extension(used),
    )
    return [card], used
