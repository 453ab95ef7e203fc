"""Evidence and Finding: immutable values that cards read by attribute and deduplicate."""

from __future__ import annotations

import pytest

from service.clinical.findings import Evidence, Finding


def test_evidence_is_immutable():
    e = Evidence("Observation", "o1", "HBsAg", "Negative", "2026-01-01")
    with pytest.raises(AttributeError):
        e.label = "anti-HBc"  # type: ignore[misc]


def test_evidence_defaults_and_attribute_access():
    e = Evidence("Condition", "c1", "Dermatomyositis", origin="prefetch")
    assert (e.resource_type, e.resource_id, e.label) == ("Condition", "c1", "Dermatomyositis")
    assert (e.value, e.date, e.code, e.origin) == (None, None, None, "prefetch")


def test_equal_evidence_is_deduplicated_and_order_kept():
    a = Evidence("Observation", "o1", "HBsAg", "Negative", "2026-01-01", origin="prefetch")
    b = Evidence("Observation", "o2", "anti-HBc", "Negative", "2026-01-01", origin="prefetch")
    same_as_a = Evidence("Observation", "o1", "HBsAg", "Negative", "2026-01-01", origin="prefetch")
    assert tuple(dict.fromkeys([a, b, same_as_a])) == (a, b)
    assert a != b and hash(a) == hash(same_as_a)


def test_replace_changes_one_field_only():
    e = Evidence("Observation", "o1", "Jo-1", "Positive", "2026-01-01", "http://loinc.org|1", "prefetch")
    relabelled = e._replace(label="Myositis-specific antibody positive: Jo-1")
    assert relabelled.label == "Myositis-specific antibody positive: Jo-1"
    assert relabelled._replace(label="Jo-1") == e


def _finding(**changes):
    return Finding(**{"rule_id": "safety.hbv", "rule_version": "1", "topic": "hbv", "severity": "warning",
                      "summary": "HBsAg not documented", **changes})


def test_finding_is_immutable_and_read_by_attribute():
    f = _finding(citations=("label-hbv-cbc",), missing=("HBsAg",))
    assert (f.rule_id, f.topic, f.severity, f.citations, f.missing) == (
        "safety.hbv", "hbv", "warning", ("label-hbv-cbc",), ("HBsAg",))
    assert (f.evidence, f.orders, f.medications, f.referrals, f.override_reasons) == ((), (), (), (), ())
    with pytest.raises(AttributeError):
        f.severity = "pass"  # type: ignore[misc]


def test_findings_without_facts_do_not_share_one_dict():
    a, b = _finding(), _finding()
    a.facts["state"] = "missing"
    assert b.facts == {} and _finding().facts == {}


def test_finding_positional_arguments_keep_the_field_order():
    f = Finding("indication.product", "1", "indication", "pass", "Product: Truxima", {"biosimilar": True})
    assert f.facts == {"biosimilar": True} and f == _finding(
        rule_id="indication.product", topic="indication", severity="pass", summary="Product: Truxima",
        facts={"biosimilar": True})


@pytest.mark.parametrize("changes", [{"topic": "weather"}, {"severity": "hard-stop"}])
def test_finding_rejects_unknown_topic_and_severity(changes):
    with pytest.raises(ValueError):
        _finding(**changes)
