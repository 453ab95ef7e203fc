"""Cards built as JSON (cards/card_json.py) are what the models would have made: the schema guarantee.

The hot path no longer validates each card through the pydantic models; these
tests are where that guarantee now lives.  Every card of every fixture, each
policy, with and without the course-review link, must validate against the
models and the CDS Hooks schema and come back from the models byte for byte
(same fields, same order, nothing empty).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import CardJson
from cards.builder import finding_card, override_reasons
from cards.suggestions import CardContext
from service.clinical.findings import Finding
from service.fhir.client import FhirClient
from service.hooks.invoke import HookRuntime, handle_hook
from service.hooks.registry import SERVICE_ID_BY_HOOK, SERVICES_BY_ID
from service.knowledge import load
from tests.cds_schema import assert_valid
from tests.golden.cards import LAUNCH_URL, POLICIES, _requests
from tests.scenarios import _EXECUTOR, NOW


@pytest.fixture(scope="module")
def every_card() -> list[tuple[str, CardJson]]:
    out = []
    for pname, policy in POLICIES.items():
        runtime = HookRuntime(client=FhirClient(), executor=_EXECUTOR, policy=policy,
                              deadline_seconds=1.0, fhir_allowed=lambda _u: False)
        for rname, request in _requests().items():
            service = SERVICES_BY_ID[SERVICE_ID_BY_HOOK[request["hook"]]]
            for launch_url in (LAUNCH_URL, None):
                outcome = handle_hook(service, json.loads(json.dumps(request)), runtime, now=NOW,
                                      app_launch_url=launch_url)
                out += [(f"{pname}/{rname}", card) for card in outcome.cards]
    return out


def test_every_fixture_card_validates_and_survives_the_models_unchanged(every_card: list[tuple[str, Any]]) -> None:
    assert len(every_card) >= 400  # every fixture, four policies, with and without links
    for scenario, card in every_card:
        assert_valid("card", card.json)
        through_models = card.model().to_json()
        assert orjson.dumps(through_models) == orjson.dumps(card.json), scenario


def test_the_fixtures_reach_every_part_of_a_card(every_card: list[tuple[str, Any]]) -> None:
    """The proof above covers each field: suggestions of each kind, links, override reasons, sources."""
    fields = {key for _, card in every_card for key in card.json}
    assert fields == {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                      "overrideReasons", "links", "extension"}
    resources = {a["resource"]["resourceType"] for _, card in every_card
                 for s in card.json.get("suggestions", []) for a in s["actions"]}
    assert resources == {"ServiceRequest", "MedicationRequest", "DocumentReference"}
    assert {card.json.get("selectionBehavior") for _, card in every_card} == {None, "any", "at-most-one"}


def test_card_reads_its_json() -> None:
    f = Finding(rule_id="t", rule_version="3", topic="hbv", severity="warning", summary="HBV screening due")
    card = finding_card(f, CardContext("p1"))
    assert (card.indicator, card.topic, card.detail) == ("warning", "hbv", None)
    assert card.uuid == card.json["uuid"] and card.to_json() is card.json
    assert card.extension == {"urn:rituximab-cds:rules": [{"id": "t", "version": "3"}]}
    card.add_link({"label": "x", "url": "https://a.example", "type": "absolute"})
    assert list(card.json)[-2:] == ["links", "extension"]  # the models' order, whatever was added last


def test_a_summary_too_long_for_a_card_is_refused_on_the_fast_path_too() -> None:
    f = Finding(rule_id="t", rule_version="1", topic="hbv", severity="warning", summary="x" * 140)
    with pytest.raises(ValueError, match="140"):
        finding_card(f, CardContext("p1"))


def test_override_reasons_data_has_no_empty_field() -> None:
    """The fast path writes override reasons as they are in the knowledge data, without pruning."""
    data = load("override_reasons")
    for indicator in ("info", "warning", "critical"):
        for reason in override_reasons((), indicator):
            assert all(isinstance(v, str) and v.strip() for v in reason.values())
    for code in data["reasons"]:
        assert all(isinstance(v, str) and v.strip() for v in override_reasons((code,), "info")[0].values())


def test_card_and_suggestion_uuids_are_random_rfc4122_version_4() -> None:
    from uuid import RFC_4122, UUID

    from cards.card_json import _new_uuid

    made = [_new_uuid() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        u = UUID(text)
        assert (u.version, u.variant, str(u)) == (4, RFC_4122, text)
    # every one of the 122 random bits varies (a stuck or misplaced bit would show as a constant column)
    bits = [UUID(t).int for t in made]
    fixed = {76, 77, 78, 79, 62, 63}
    for i in set(range(128)) - fixed:
        assert 0 < sum((n >> i) & 1 for n in bits) < len(bits), i


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_uuid_text_is_uuid4s_for_the_same_random_bytes(random_bytes: bytes) -> None:
    """The UUID built from hex digits equals what uuid.uuid4() makes of the same 16 random bytes."""
    from unittest import mock
    from uuid import UUID

    from cards import card_json

    with mock.patch.object(card_json.os, "urandom", lambda n: random_bytes):
        assert card_json._new_uuid() == str(UUID(bytes=random_bytes, version=4))
