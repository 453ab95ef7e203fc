"""Safety work-up rules from their sources (clinical-rules.md §2, knowledge/safety.yaml)."""

from __future__ import annotations

import pytest

from service.clinical.fhir_values import qualitative_result
from service.clinical.policy import Policy
from service.clinical.rules.monitoring import cbc_due, hbv_dna_due, igg_due, next_course
from service.clinical.rules.safety import (
    blood_counts,
    hepatitis_b,
    hepatitis_c,
    immunoglobulins,
    live_vaccines,
    prior_reaction,
    tuberculosis,
)
from service.clinical.units import cells_per_ul, igg_mg_dl
from tests.records import IND, NEG, POS, ago, condition, infusion, obs, record, rituximab_order, statement

P = Policy()
ORDER = rituximab_order()


def one(findings):
    assert len(findings) == 1, findings
    return findings[0]


def ivig(days):
    return {"resourceType": "MedicationAdministration", "id": f"ivig{days}", "status": "completed",
            "medicationCodeableConcept": {"text": "IVIG (immune globulin)"}, "effectiveDateTime": ago(days)}


# --- HBV (label: HBsAg + anti-HBc before initiating) ---

def test_both_missing_orders_both():
    f = one(hepatitis_b(record(), ORDER, P))
    assert f.severity == "warning"
    assert {o.code for o in f.orders} == {"5196-1", "16933-4"}


def test_one_missing_orders_only_that_one():
    f = one(hepatitis_b(record(obs("5196-1", 30, concept=NEG)), ORDER, P))
    assert [o.code for o in f.orders] == ["16933-4"]


def test_first_course_needs_results_within_12_months():
    r = record(obs("5196-1", 500, concept=NEG), obs("16933-4", 500, concept=NEG))
    assert one(hepatitis_b(r, ORDER, P)).severity == "warning"


def test_continuing_patient_any_earlier_negative_pair_is_enough():
    r = record(obs("5196-1", 900, concept=NEG), obs("16933-4", 900, concept=NEG), infusion(180))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.severity == "pass" and f.facts["continuing"] is True


@pytest.mark.parametrize("hbsag_code", ["5195-3", "5196-1"])
@pytest.mark.parametrize("anti_hbc", [{"concept": NEG}, {"string": "Non-reactive"}, {"string": "Negative"}])
def test_sibling_codes_and_string_results(hbsag_code, anti_hbc):
    r = record(obs(hbsag_code, 30, string="NEGATIVE"), obs("13952-7", 30, **anti_hbc))
    assert one(hepatitis_b(r, ORDER, P)).severity == "pass"


def test_hbsag_positive_without_antiviral_is_critical():
    r = record(obs("5196-1", 10, concept=POS), obs("16933-4", 10, concept=POS))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.severity == "critical" and f.orders[0].code == "42595-9"


def test_hbsag_positive_on_entecavir_is_a_warning():
    r = record(obs("5196-1", 10, string="Reactive"), statement("entecavir 0.5 mg"))
    assert one(hepatitis_b(r, ORDER, P)).severity == "warning"


def test_anti_hbc_positive_hbsag_negative_is_a_warning_with_hbv_dna():
    r = record(obs("5196-1", 10, concept=NEG), obs("16933-4", 10, concept=POS))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.severity == "warning" and f.facts["state"] == "anti-hbc-positive"
    assert [o.code for o in f.orders] == ["42595-9"]


def test_anti_hbc_within_12_weeks_after_ivig_is_flagged_as_possible_passive_transfer():
    r = record(obs("5196-1", 10, concept=NEG), obs("16933-4", 10, concept=POS), ivig(30))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.facts["state"] == "anti-hbc-after-ivig" and f.facts["days_after_ivig"] == 20
    assert "ivig-anti-hbc" in f.citations


def test_anti_hbc_long_after_ivig_is_not_blamed_on_ivig():
    r = record(obs("5196-1", 10, concept=NEG), obs("16933-4", 10, concept=POS), ivig(200))
    assert one(hepatitis_b(r, ORDER, P)).facts["state"] == "anti-hbc-positive"


# --- immunoglobulins (Buch 2011; Barmettler 2018) ---

def test_no_igg_in_6_months_orders_igg_iga_igm():
    f = one(immunoglobulins(record(obs("2465-3", 250, 900, "mg/dL")), ORDER, P))
    assert f.severity == "warning" and {o.code for o in f.orders} == {"2465-3", "2458-8", "2472-9"}


@pytest.mark.parametrize(("value", "unit", "band"), [(350, "mg/dL", "moderate"), (3.5, "g/L", "moderate"),
                                                     (5.5, "g/L", "mild"), (150, "mg/dL", "severe")])
def test_low_igg_in_any_unit(value, unit, band):
    f = one(immunoglobulins(record(obs("2465-3", 20, value, unit)), ORDER, P))
    assert f.severity == "warning" and f.facts["band"] == band


def test_normal_igg_in_g_per_l_passes():
    assert one(immunoglobulins(record(obs("2465-3", 20, 9.5, "g/L")), ORDER, P)).severity == "pass"


def test_igg_trend_is_reported():
    r = record(obs("2465-3", 20, 350, "mg/dL"), obs("2465-3", 150, 520, "mg/dL"))
    f = one(immunoglobulins(r, ORDER, P))
    assert [t["mg_dl"] for t in f.facts["trend"]] == [350, 520]


def test_igg_within_28_days_after_ivig_does_not_reflect_own_level():
    r = record(obs("2465-3", 10, 1600, "mg/dL"), ivig(20))
    f = one(immunoglobulins(r, ORDER, P))
    assert f.facts["state"] == "after-ivig" and f.severity == "info"


def test_pre_ivig_igg_is_used_when_available():
    r = record(obs("2465-3", 10, 1600, "mg/dL"), obs("2465-3", 40, 420, "mg/dL"), ivig(20))
    f = one(immunoglobulins(r, ORDER, P))
    assert f.facts["state"] == "low" and f.facts["value_mg_dl"] == 420


def test_units_helpers():
    assert igg_mg_dl(3.5, "g/L") == 350 and igg_mg_dl(1, "furlongs") is None
    assert cells_per_ul(1.2, "10*3/uL") == 1200 and cells_per_ul(1.2, "10^9/L") == 1200


# --- TB (not label-required; CDS_TB_SCREENING) ---

@pytest.mark.parametrize(("mode", "severity"), [("required", "warning"), ("advisory", "info")])
def test_missing_tb_screening_follows_policy(mode, severity):
    f = one(tuberculosis(record(), ORDER, Policy(tb_screening=mode)))
    assert f.severity == severity and f.orders[0].code == "71775-1"  # the orderable panel, not the result code


def test_tb_off_means_nothing():
    assert tuberculosis(record(), ORDER, Policy(tb_screening="off")) == []


def test_positive_igra_without_treatment_is_a_warning_even_when_advisory():
    f = one(tuberculosis(record(obs("71773-6", 20, concept=POS)), ORDER, P))
    assert f.severity == "warning"


@pytest.mark.parametrize("code", ["Z22.7", "R76.11", "R76.12"])
def test_latent_tb_condition_codes(code):
    f = one(tuberculosis(record(condition(code)), ORDER, P))
    assert f.facts["state"] == "positive-untreated"


def test_positive_igra_with_isoniazid_passes():
    f = one(tuberculosis(record(obs("71773-6", 20, concept=POS), statement("isoniazid 300 mg")), ORDER, P))
    assert f.severity == "pass"


def test_indeterminate_igra_suggests_repeat():
    f = one(tuberculosis(record(obs("71773-6", 20, concept=IND)), ORDER, Policy(tb_screening="required")))
    assert f.facts["state"] == "indeterminate" and f.severity == "warning"


# --- HCV, CBC, vaccines, reactions ---

def test_hcv_advisory_when_no_result():
    assert one(hepatitis_c(record(), ORDER, P)).severity == "info"
    assert one(hepatitis_c(record(obs("16128-1", 400, concept=NEG)), ORDER, P)).severity == "pass"
    assert one(hepatitis_c(record(obs("13955-0", 4, concept=POS)), ORDER, P)).orders[0].code == "11259-9"


def cbc(days, anc=3.9, plt=245):
    return [obs("6690-2", days, 6.0, "10*3/uL"), obs("751-8", days, anc, "10*3/uL"),
            obs("777-3", days, plt, "10*3/uL")]


def test_cbc_missing_after_120_days():
    f = one(blood_counts(record(*cbc(130)), ORDER, P))
    assert f.severity == "warning" and [o.code for o in f.orders] == ["57021-8"]  # one orderable CBC panel


def test_recent_cbc_passes_and_severe_cytopenia_warns():
    assert one(blood_counts(record(*cbc(30)), ORDER, P)).severity == "pass"
    f = one(blood_counts(record(*cbc(30, anc=0.6, plt=40)), ORDER, P))
    assert f.severity == "warning" and len(f.facts["problems"]) == 2


def imm(cvx, days):
    return {"resourceType": "Immunization", "id": f"imm{cvx}", "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": cvx}]},
            "occurrenceDateTime": ago(days)}


def test_live_vaccine_within_4_weeks_warns_and_recombinant_zoster_does_not():
    assert one(live_vaccines(record(imm("121", 10)), ORDER, P)).severity == "warning"
    assert live_vaccines(record(imm("187", 10)), ORDER, P) == []
    assert live_vaccines(record(imm("03", 60)), ORDER, P) == []


def allergy(text, criticality="low", manifestation=None):
    a = {"resourceType": "AllergyIntolerance", "id": "a1", "criticality": criticality,
         "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": text}}
    if manifestation:
        a["reaction"] = [{"manifestation": [{"text": manifestation}]}]
    return a


def test_reactions():
    assert one(prior_reaction(record(allergy("Rituximab", manifestation="anaphylaxis")), ORDER, P)).severity == "critical"
    # criticality "high" is often an EHR default: it does not grade the card (test_rules_safety_depth.py)
    assert one(prior_reaction(record(allergy("rituxan", criticality="high")), ORDER, P)).severity == "warning"
    assert one(prior_reaction(record(allergy("rituximab", manifestation="rigors")), ORDER, P)).severity == "warning"
    assert one(prior_reaction(record(allergy("murine proteins")), ORDER, P)).severity == "warning"
    assert prior_reaction(record(allergy("penicillin", criticality="high")), ORDER, P) == []


@pytest.mark.parametrize(("obs_kwargs", "expected"), [
    ({"concept": NEG}, "negative"), ({"concept": POS}, "positive"), ({"concept": IND}, "indeterminate"),
    ({"string": "Non-reactive"}, "negative"), ({"string": "REACTIVE"}, "positive"),
    ({"string": "Not detected"}, "negative"), ({"string": "equivocal"}, "indeterminate"), ({"string": "?"}, None),
])
def test_qualitative_results(obs_kwargs, expected):
    assert qualitative_result(obs("5196-1", 1, **obs_kwargs)) == expected


# --- patient-view monitoring ---

def test_not_on_rituximab_no_reminders():
    r = record(obs("2465-3", 400, 900, "mg/dL"))
    assert igg_due(r, P) == [] and cbc_due(r, P) == [] and next_course(r, P) == []


def test_overdue_is_warning_upcoming_is_info():
    overdue = record(infusion(100), obs("2465-3", 200, 900, "mg/dL"))
    assert one(igg_due(overdue, P)).severity == "warning"
    upcoming = record(infusion(100), obs("2465-3", 170, 900, "mg/dL"))
    assert one(igg_due(upcoming, P)).severity == "info"
    fine = record(infusion(100), obs("2465-3", 30, 900, "mg/dL"))
    assert igg_due(fine, P) == []


def test_hbv_dna_reminder_only_for_anti_hbc_positive():
    assert hbv_dna_due(record(infusion(60), obs("16933-4", 300, concept=NEG)), P) == []
    f = one(hbv_dna_due(record(infusion(60), obs("16933-4", 300, concept=POS)), P))
    assert f.topic == "hbv" and f.orders[0].code == "42595-9"


def test_next_course_schedule_is_info_never_a_warning():
    past = one(next_course(record(infusion(200)), P))
    assert past.severity == "info" and past.facts["state"] == "past-typical"
    assert one(next_course(record(infusion(150)), P)).severity == "info"
    assert next_course(record(infusion(60)), P) == []


def test_no_next_course_reminder_for_oncology_cycles():
    assert next_course(record(infusion(200), condition("C83.30")), P) == []
