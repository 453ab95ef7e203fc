"""Dose and interval per regimen (knowledge/regimens.yaml), one test per regimen and branch."""

from __future__ import annotations

from service.clinical.policy import Policy
from service.clinical.rules.appropriateness import continuation, prerequisites
from service.clinical.rules.dosing import dose_and_interval
from service.clinical.rules.safety.hcv import hepatitis_c
from service.clinical.rules.safety.immunoglobulins import immunoglobulins
from service.clinical.rules.safety.tb import tuberculosis
from tests.records import POS, condition, infusion, obs, record, rituximab_order, statement

P = Policy()
DLBCL = "C83.30"
GPA = "M31.31"
DM = "M33.10"


def one(findings):
    assert len(findings) == 1, findings
    return findings[0]


def big(*extra):
    """A large adult: 190 cm, 120 kg (BSA 2.52 m2)."""
    return (obs("8302-2", 10, 190, "cm"), obs("29463-7", 10, 120, "kg"), *extra)


def test_375_mg_m2_weekly_x4_with_a_large_bsa_passes_gpa_and_myositis():
    for code in (GPA, DM):
        f = one(dose_and_interval(record(condition(code), *big()), rituximab_order(375, "mg/m2", 4, 7), P))
        assert f.severity == "pass", (code, f.facts["problems"])
        assert f.facts["dose_mg"] == 945 and f.facts["bsa_m2"] == 2.52  # computed mg shown, no course total
        assert f.facts["body_size"] and "Body height 190 cm" in f.facts["body_size"][0]


def test_2000_mg_single_dose_still_fails():
    f = one(dose_and_interval(record(condition("M05.79")), rituximab_order(2000), P))
    assert f.severity == "warning" and "2,000 mg per dose exceeds" in f.facts["problems"][0]


def test_rchop_cycle_at_21_days_passes_as_cycle_3():
    chart = record(condition(DLBCL), *big(), infusion(42, 940), infusion(21, 940))
    f = one(dose_and_interval(chart, rituximab_order(375, "mg/m2", 1), P))
    assert f.severity == "pass", f.facts["problems"]
    assert f.facts["pathway"] == "cycle" and f.facts["cycle"] == 3
    cont = one(continuation(chart, rituximab_order(375, "mg/m2", 1), P))
    assert cont.summary == "Cycle 3 of a rituximab regimen"


def test_a_cycle_after_a_completed_regimen_is_recognized():
    doses = [infusion(21 * k + 21, 940) for k in range(8)]  # 8 cycles, the last 21 days ago
    f = one(dose_and_interval(record(condition(DLBCL), *big(), *doses), rituximab_order(375, "mg/m2", 1), P))
    assert f.severity == "warning" and "beyond a completed regimen" in " ".join(f.facts["problems"])


def test_a_cycle_days_after_the_last_is_too_soon():
    f = one(dose_and_interval(record(condition(DLBCL), *big(), infusion(3, 940)), rituximab_order(375, "mg/m2"), P))
    assert f.severity == "warning" and "Only 3 days" in f.facts["problems"][0]


def test_oncology_cycles_skip_igg_and_repeat_screening_advisories():
    chart = record(condition(DLBCL), *big(), infusion(42, 940), infusion(21, 940))
    order = rituximab_order(375, "mg/m2")
    assert immunoglobulins(chart, order, P) == []  # the source (RA consensus) does not cover lymphoma
    assert tuberculosis(chart, order, P) == [] and hepatitis_c(chart, order, P) == []  # cycle 3, not cycle 1
    first = record(condition(DLBCL), *big())
    assert one(tuberculosis(first, order, P)).severity == "info"  # cycle 1: per policy


def test_concurrent_agents_are_not_refractory():
    chart = record(condition(DM), statement("prednisone 20 mg", start_days=200), statement("tacrolimus 2 mg", start_days=20))
    f = one(prerequisites(chart, rituximab_order(), P))
    assert f.severity == "warning" and f.facts["concurrent"] == ["tacrolimus 2 mg"] and not f.facts["failed"]


def test_an_agent_documented_as_failed_counts():
    chart = record(condition(DM), statement("prednisone 20 mg", start_days=200),
                   statement("methotrexate 20 mg weekly", status="stopped", start_days=300, end_days=30))
    f = one(prerequisites(chart, rituximab_order(), P))
    assert f.severity == "pass" and f.facts["met_by"] == "prior therapy"


def test_rp_ild_from_anti_mda5_and_fvc_decline():
    chart = record(condition(DM), condition("J84.10"), obs("82424-3", 60, concept=POS),
                   obs("19872-1", 70, 80, "%"), obs("19872-1", 10, 66, "%"))
    f = one(prerequisites(chart, rituximab_order(), P))
    assert f.severity == "pass" and f.facts["met_by"] == "first-line criteria" and f.facts["rp_ild"]
    assert {"acr-chest-2023-rpild", "medra5-2020"} <= set(f.citations)
