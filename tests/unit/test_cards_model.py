"""Card models enforce the CDS Hooks 2.0 constraints (ValueError, never assert)."""

from __future__ import annotations

import re

import pytest

from cards.builder import finding_card
from cards.model import Action, Card, Coding, Source, Suggestion
from cards.render import md_escape
from cards.suggestions import CardContext
from service.clinical.findings import Evidence, Finding, OrderSuggestion
from tests.cds_schema import assert_valid

TOPIC = Coding(system="urn:rituximab-cds:topic", code="hbv")


def card(**kw):
    base = {"summary": "s", "indicator": "info", "source": Source(label="x", topic=TOPIC)}
    base.update(kw)
    return Card(**base)


def test_summary_must_be_under_140_characters():
    card(summary="x" * 139)
    with pytest.raises(ValueError, match="140"):
        card(summary="x" * 140)


def test_suggestions_require_selection_behavior():
    s = Suggestion(label="Order HBsAg", actions=[Action(type="create", description="d",
                                                      resource={"resourceType": "ServiceRequest"})])
    with pytest.raises(ValueError, match="selectionBehavior"):
        card(suggestions=[s])
    assert card(suggestions=[s], selectionBehavior="any").suggestions[0].uuid


def test_indicator_and_topic_come_from_the_contract():
    with pytest.raises(ValueError):
        card(indicator="hard-stop")
    with pytest.raises(ValueError):
        Source(label="x", topic=Coding(system="urn:rituximab-cds:topic", code="weather"))


def test_create_action_needs_a_resource():
    with pytest.raises(ValueError):
        Action(type="create", description="d")


def test_to_json_emits_no_empty_fields_and_has_uuid():
    out = card().to_json()
    assert out["uuid"] and "suggestions" not in out and "detail" not in out
    assert_valid("card", out)


def test_finding_card_escapes_ehr_text_and_validates():
    f = Finding(
        rule_id="t", rule_version="1", topic="hbv", severity="warning",
        summary="Hepatitis B screening incomplete",
        evidence=(Evidence("Observation", "o1", "<img src=x onerror=alert(1)>", "| pipe", "2026-01-01"),),
        missing=("anti-HBc",),
        citations=("fda-label-rituximab",),
        orders=(OrderSuggestion("5196-1", "HBsAg"), OrderSuggestion("16933-4", "anti-HBc")),
    )
    c = finding_card(f, CardContext("p1", "Practitioner/9", "e1", "2026-11-23")).to_json()
    assert_valid("card", c)
    assert re.search(r"(?<!\\)<", c["detail"]) is None  # every < escaped
    assert "\\<img" in c["detail"]
    assert "\\| pipe" in c["detail"]
    recommended = [s for s in c["suggestions"] if s.get("isRecommended")]
    assert len(recommended) == 1 and len(recommended[0]["actions"]) == 2
    sr = recommended[0]["actions"][0]["resource"]
    assert sr["requester"] == {"reference": "Practitioner/9"}
    assert sr["subject"] == {"reference": "Patient/p1"}
    assert sr["encounter"] == {"reference": "Encounter/e1"}
    assert c["selectionBehavior"] == "at-most-one"  # "order all" and each single test are alternatives
    assert c["overrideReasons"] and all(r["display"] for r in c["overrideReasons"])
    assert c["extension"]["urn:rituximab-cds:rules"] == [{"id": "t", "version": "1"}]


def test_suggested_service_requests_validate_as_fhir():
    from fhir.resources.R4B.servicerequest import ServiceRequest

    f = Finding(rule_id="t", rule_version="1", topic="cbc", severity="warning", summary="CBC due",
                orders=(OrderSuggestion("6690-2", "Leukocytes"),))
    c = finding_card(f, CardContext("p1", "Practitioner/9", None, "2026-11-23")).model()
    for s in c.suggestions:
        for a in s.actions:
            ServiceRequest.model_validate(a.resource)


def test_md_escape():
    assert md_escape("a*b_c") == "a\\*b\\_c"
    assert md_escape(None) == ""
    assert md_escape(3) == 3


def test_md_escape_flattens_line_breaks_and_escapes_non_strings():
    # A line break from the EHR would end a table row or list item early (found by test_properties).
    for brk in ("\n", "\r", "\r\n", "\u2028", "\x0b", "\x0c", "\x85"):
        assert md_escape(f"a{brk}b") == "a b"
    # A list or object from a broken feed renders as text: escaped like any other.
    assert md_escape(["<img src=x>"]) == "\\['\\<img src=x\\>'\\]"
    assert md_escape(2.5) == 2.5
