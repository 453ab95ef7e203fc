"""Evidence and Finding: immutable values that cards read by attribute and deduplicate."""

from __future__ import annotations

import pytest

from service.clinical.findings import Evidence


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
