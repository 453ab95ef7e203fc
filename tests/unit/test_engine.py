"""The rule engine: declared data needs, data-access finding, rule scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.clinical import engine
from service.clinical.findings import Finding
from service.clinical.policy import Policy
from service.clinical.record import OrderUnderReview, PatientRecord

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def isolated_rules(monkeypatch):
    monkeypatch.setattr(engine, "_RULES", [])
    monkeypatch.setattr(engine, "_loaded", True)
    return engine


def finding(rule_id, topic="hbv", severity="warning"):
    return Finding(rule_id=rule_id, rule_version="1", topic=topic, severity=severity, summary=rule_id)


def order(i):
    return OrderUnderReview(request={"resourceType": "MedicationRequest", "id": str(i)},
                            product_key="rituximab", matched_by="text")


def test_rule_needing_unavailable_data_is_skipped_and_reported(isolated_rules):
    calls = []

    @isolated_rules.order_rule("needs-obs", "Hepatitis B screening", needs=["observations"])
    def needs_obs(record, order, policy):
        calls.append("obs")
        return [finding("needs-obs")]

    @isolated_rules.order_rule("needs-cond", "Indication", needs=["conditions"])
    def needs_cond(record, order, policy):
        return [finding("needs-cond", topic="indication")]

    record = PatientRecord("p", NOW, unavailable=frozenset({"observations"}))
    out = isolated_rules.evaluate_order(record, [order(1)], Policy())
    assert calls == []
    assert [f.rule_id for f in out] == ["needs-cond", "data-access"]
    access = out[-1]
    assert access.topic == "data-access"
    assert access.facts["checks"] == ["Hepatitis B screening"]
    assert access.facts["sections"] == ["observations"]


def test_patient_scope_runs_once_order_scope_per_order(isolated_rules):
    seen = {"patient": 0, "order": 0}

    @isolated_rules.order_rule("p", "p", needs=[], scope="patient")
    def per_patient(record, order, policy):
        seen["patient"] += 1
        return []

    @isolated_rules.order_rule("o", "o", needs=[])
    def per_order(record, order, policy):
        seen["order"] += 1
        return []

    isolated_rules.evaluate_order(PatientRecord("p", NOW), [order(1), order(2)], Policy())
    assert seen == {"patient": 1, "order": 2}


def test_chart_rules_only_for_chart_evaluation(isolated_rules):
    @isolated_rules.chart_rule("c", "c", needs=[])
    def chart(record, policy):
        return [finding("c", topic="course-schedule", severity="info")]

    assert isolated_rules.evaluate_order(PatientRecord("p", NOW), [order(1)], Policy()) == []
    assert [f.rule_id for f in isolated_rules.evaluate_chart(PatientRecord("p", NOW), Policy())] == ["c"]


def test_finding_rejects_unknown_topic_and_severity():
    with pytest.raises(ValueError):
        finding("x", topic="weather")
    with pytest.raises(ValueError):
        finding("x", severity="hard-stop")
