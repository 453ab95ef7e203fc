"""Appropriateness rules, one behaviour per test, from their sources (clinical-rules.md §1)."""

from __future__ import annotations

import math

import pytest

from service.clinical.dosing import body_surface_area, ordered_dose
from service.clinical.policy import Policy
from service.clinical.rules.appropriateness import documented_indication, prerequisites, product_choice
from service.clinical.rules.dosing import dose_and_interval
from tests.records import (
    NEG,
    POS,
    SNOMED,
    condition,
    infusion,
    obs,
    record,
    rituximab_order,
    statement,
)

P = Policy()


def one(findings):
    assert len(findings) == 1, findings
    return findings[0]


# --- indication (label §1.1; ICD-10-CM §3.3) ---

def test_active_ra_condition_is_a_labeled_indication():
    f = one(documented_indication(record(condition("M05.79")), rituximab_order(), P))
    assert f.severity == "pass" and f.facts["group"] == "ra" and f.facts["labeled"] is True
    assert f.evidence[0].resource_type == "Condition"


@pytest.mark.parametrize(("status", "verification"), [("active", "entered-in-error"), ("active", "refuted"),
                                                        ("resolved", "confirmed"), ("inactive", "confirmed")])
def test_entered_in_error_refuted_or_inactive_conditions_do_not_count(status, verification):
    r = record(condition("M33.10", status=status, verification=verification))
    assert one(documented_indication(r, rituximab_order(), P)).severity == "warning"


@pytest.mark.parametrize("status", ["recurrence", "relapse"])
def test_recurrence_and_relapse_are_active(status):
    r = record(condition("L10.0", status=status))
    assert one(documented_indication(r, rituximab_order(), P)).facts["group"] == "pv"


def test_order_reason_code_documents_the_indication():
    f = one(documented_indication(record(), rituximab_order(reason="M31.31"), P))
    assert f.facts["group"] == "gpa_mpa"
    assert f.evidence[0].origin == "order"


def test_snomed_coded_condition_is_recognised():
    f = one(documented_indication(record(condition("31384009", system=SNOMED)), rituximab_order(), P))
    assert f.facts["group"] == "iim" and f.facts["labeled"] is False


def test_antisynthetase_antibody_alone_documents_myopathy():
    r = record(condition("J84.10"), obs("8076-2", 30, concept=POS))
    f = one(documented_indication(r, rituximab_order(), P))
    assert f.facts["group"] == "iim" and f.facts["antisynthetase"] is True


def test_negative_antibody_does_not():
    r = record(obs("8076-2", 30, concept=NEG))
    assert one(documented_indication(r, rituximab_order(), P)).severity == "warning"


def test_labeled_indication_wins_over_myopathy_for_dosing():
    r = record(condition("M33.10"), condition("M05.79"))
    assert one(documented_indication(r, rituximab_order(), P)).facts["group"] == "ra"


def test_missing_indication_warning_says_what_to_document():
    f = one(documented_indication(record(condition("I10")), rituximab_order(), P))
    assert f.severity == "warning" and f.topic == "indication"
    assert any("reasonCode" in m for m in f.missing)


# --- myopathy prerequisites (rules A2/A3 §1.2) ---

def test_myopathy_needs_glucocorticoid_and_conventional_agent():
    r = record(condition("M33.20"), statement("prednisone 40 mg"))
    f = one(prerequisites(r, rituximab_order(), P))
    assert f.severity == "warning"
    assert any("conventional immunosuppressant" in m for m in f.missing)


@pytest.mark.parametrize("status", ["active", "stopped", "completed"])
def test_stopped_or_current_conventional_agent_both_count(status):
    r = record(condition("M33.20"), statement("prednisone"), statement("azathioprine 100 mg", status=status,
                                                                        end_days=30 if status != "active" else None))
    assert one(prerequisites(r, rituximab_order(), P)).severity == "pass"


def test_not_taken_and_entered_in_error_do_not_count():
    r = record(condition("M33.20"), statement("prednisone"), statement("methotrexate", status="not-taken"),
               statement("azathioprine", status="entered-in-error"))
    assert one(prerequisites(r, rituximab_order(), P)).severity == "warning"


def test_medication_recognised_by_rxnorm_ingredient_code():
    r = record(condition("M33.20"), statement("Drug A", code="8640"), statement("Drug B", code="68149"))
    assert one(prerequisites(r, rituximab_order(), P)).severity == "pass"


@pytest.mark.parametrize(
    "extra",
    [
        [condition("J84.10", text="Rapidly progressive interstitial lung disease")],
        [condition("233703007", system=SNOMED), obs("82424-3", 10, concept=POS)],
        [condition("40739000", system=SNOMED)],
        [],  # M33.21 below: polymyositis with respiratory involvement
    ],
)
def test_first_line_use_is_justified_by_severe_disease(extra):
    r = record(condition("M33.21"), *extra)
    f = one(prerequisites(r, rituximab_order(), P))
    assert f.severity == "pass" and f.facts["first_line_justified_by"]


def test_ra_needs_tnf_inhibitor_and_methotrexate():
    r = record(condition("M05.79"), statement("methotrexate 20 mg weekly"))
    f = one(prerequisites(r, rituximab_order(), P))
    assert f.severity == "warning" and any("TNF inhibitor" in m for m in f.missing)
    r2 = record(condition("M05.79"), statement("methotrexate"), statement("adalimumab", status="stopped", end_days=60))
    assert one(prerequisites(r2, rituximab_order(), P)).severity == "pass"


def test_gpa_without_glucocorticoid_is_flagged():
    f = one(prerequisites(record(condition("M31.30")), rituximab_order(), P))
    assert f.severity == "warning"


# --- product (§1.1 Rituxan Hycela oncology only; A4 biosimilar) ---

def test_hycela_for_non_oncology_is_a_warning_but_not_for_lymphoma():
    f = one(product_choice(record(condition("M05.79")), rituximab_order(product_key="rituximab-hyaluronidase"), P))
    assert f.severity == "warning" and f.topic == "indication"
    f2 = one(product_choice(record(condition("C83.30")), rituximab_order(product_key="rituximab-hyaluronidase"), P))
    assert f2.severity == "pass"


def test_biosimilar_preference_is_a_policy_setting():
    r = record(condition("M05.79"))
    assert one(product_choice(r, rituximab_order(), P)).severity == "pass"
    f = one(product_choice(r, rituximab_order(), Policy(prefer_biosimilar=True)))
    assert f.severity == "info"
    assert one(product_choice(r, rituximab_order(product_key="rituximab-pvvr"),
                              Policy(prefer_biosimilar=True))).severity == "pass"


# --- dose and interval (RA label: 2 x 1000 mg, >= 16 weeks; regimens.yaml) ---

@pytest.mark.parametrize(("unit", "value", "expected_mg"), [("mg", 1000, 1000), ("milligram", 1000, 1000),
                                                            ("g", 1, 1000), ("MG", 500, 500)])
def test_dose_unit_variants(unit, value, expected_mg):
    d = ordered_dose(rituximab_order(value, unit).request)
    assert d is not None and d.value == expected_mg and not d.per_m2


@pytest.mark.parametrize("unit", ["mg/m2", "mg/m^2", "mg/m²"])
def test_per_m2_units(unit):
    assert ordered_dose(rituximab_order(375, unit).request).per_m2


def test_unknown_unit_is_not_a_dose():
    assert ordered_dose(rituximab_order(2, "vial").request) is None


def test_mosteller_bsa():
    r = record(obs("8302-2", 10, 175, "cm"), obs("29463-7", 10, 80, "kg"))
    assert body_surface_area(r).bsa_m2 == pytest.approx(1.97, abs=0.01)
    r2 = record(obs("8302-2", 10, 1.75, "m"), obs("29463-7", 10, 176.37, "[lb_av]"))
    assert body_surface_area(r2).bsa_m2 == pytest.approx(1.97, abs=0.01)


def test_mg_per_m2_without_height_and_weight_cannot_be_checked():
    r = record(condition("M31.31"), statement("prednisone"))
    f = one(dose_and_interval(r, rituximab_order(375, "mg/m2", count=4, period_days=7), P))
    assert f.severity == "warning" and any("height" in m for m in f.missing)


def test_mg_per_m2_with_height_and_weight_passes_and_computes_mg():
    r = record(condition("M31.31"), obs("8302-2", 10, 175, "cm"), obs("29463-7", 10, 80, "kg"))
    f = one(dose_and_interval(r, rituximab_order(375, "mg/m2", count=4, period_days=7), P))
    assert f.severity == "pass" and f.facts["dose_mg"] == pytest.approx(739, abs=2)


def test_over_the_single_dose_limit():
    f = one(dose_and_interval(record(condition("M05.79")), rituximab_order(2000), P))
    assert f.severity == "warning" and "exceeds" in f.facts["problems"][0]


def test_too_many_doses_per_course():
    f = one(dose_and_interval(record(condition("M05.79")), rituximab_order(1000, count=3, period_days=14), P))
    assert any("3 doses ordered" in p for p in f.facts["problems"])


def test_second_dose_of_a_course_is_not_a_new_course():
    r = record(condition("M05.79"), infusion(14))
    f = one(dose_and_interval(r, rituximab_order(1000), P))
    assert f.severity == "pass" and f.facts["same_course"] is True


def test_new_course_before_16_weeks_is_flagged():
    r = record(condition("M05.79"), infusion(70), infusion(56))
    f = one(dose_and_interval(r, rituximab_order(1000, count=2, period_days=14), P))
    assert f.severity == "warning" and "Only 10 weeks" in f.facts["problems"][0]


def test_course_after_24_weeks_passes():
    r = record(condition("M05.79"), infusion(182), infusion(168))
    assert one(dose_and_interval(r, rituximab_order(1000, count=2, period_days=14), P)).severity == "pass"


def test_myopathy_floor_of_16_weeks_also_applies():
    r = record(condition("M33.10"), infusion(84))
    f = one(dose_and_interval(r, rituximab_order(1000), P))
    assert f.severity == "warning"


def test_no_indication_no_dosing_finding():
    assert dose_and_interval(record(), rituximab_order(5000), P) == []


@pytest.mark.parametrize("field", ["value", "count", "period"])
@pytest.mark.parametrize("bad", [10**400, math.inf], ids=["10**400", "inf"])
def test_out_of_range_numbers_in_the_order_are_unreadable_not_fatal(field, bad):
    # Regression (test_properties): float(10**400) and int(inf) raised OverflowError.
    order = rituximab_order(1000, "mg", count=2, period_days=14)
    instruction = order.request["dosageInstruction"][0]
    if field == "value":
        instruction["doseAndRate"][0]["doseQuantity"]["value"] = bad
        assert ordered_dose(order.request) is None
    else:
        instruction["timing"]["repeat"][field] = bad
        dose = ordered_dose(order.request)
        assert dose is not None and dose.value == 1000
        assert (dose.count if field == "count" else dose.interval_days) is None
