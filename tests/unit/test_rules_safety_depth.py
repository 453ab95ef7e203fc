"""The safety work-up as deep as the label and its guidance (issue 12).

HBV DNA and problem-list hepatitis B, pregnancy, active infection,
Pneumocystis prophylaxis in GPA/MPA, reaction grading, and the orders that
act on them.  Each branch from its source (knowledge/safety.yaml).
"""

from __future__ import annotations

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cards.builder import finding_card
from cards.model import Action, Card, Coding, Source, Suggestion
from cards.suggestions import CardContext
from service.clinical.policy import Policy
from service.clinical.rules.monitoring import hbv_dna_due
from service.clinical.rules.safety import (
    active_infection,
    hepatitis_b,
    pneumocystis_prophylaxis,
    pregnancy,
    prior_reaction,
)
from tests.records import (
    ICD10,
    NEG,
    POS,
    SNOMED,
    ago,
    condition,
    infusion,
    obs,
    patient,
    record,
    rituximab_order,
    statement,
)

P = Policy()
ORDER = rituximab_order()
CTX = CardContext(patient_id="p1", user_id="Practitioner/dr", today="2026-11-01")


def one(findings):
    assert len(findings) == 1, findings
    return findings[0]


def hbv_dna(days, value=None, comparator=None, string=None):
    o = obs("42595-9", days, value, "IU/mL", string=string)
    if comparator:
        o["valueQuantity"]["comparator"] = comparator
    return o


def screened_anti_hbc_positive(days=30):
    return [obs("5196-1", days, concept=NEG), obs("16933-4", days, concept=POS)]


def entecavir():
    return statement("entecavir 0.5 mg", code="306266", start_days=60)


def order_codes(f):
    return [o.code for o in f.orders]


# --- HBV DNA ----------------------------------------------------------------------------------------

def test_detectable_dna_without_antiviral_is_critical_whatever_hbsag_shows():
    f = one(hepatitis_b(record(*screened_anti_hbc_positive(), hbv_dna(10, 420)), ORDER, P))
    assert f.severity == "critical" and f.facts["state"] == "dna-detectable-untreated"
    assert "420" in f.summary
    assert order_codes(f) == []  # the result is on file: shown, not ordered again
    assert [r.specialty for r in f.referrals] == ["hepatology"]
    assert {m.display for m in f.medications} == {"entecavir", "tenofovir disoproxil fumarate"}
    assert not any(m.recommended for m in f.medications)  # alternatives: hepatology chooses
    assert any(e.label == "HBV DNA" and e.value == "420 IU/mL" for e in f.evidence)


def test_detectable_dna_with_hbsag_negative_and_anti_hbc_negative_is_still_critical():
    r = record(obs("5196-1", 30, concept=NEG), obs("16933-4", 30, concept=NEG), hbv_dna(5, string="Detected"))
    assert one(hepatitis_b(r, ORDER, P)).severity == "critical"


def test_detectable_dna_on_antiviral_is_a_warning_for_hepatology():
    f = one(hepatitis_b(record(*screened_anti_hbc_positive(), hbv_dna(10, 420), entecavir()), ORDER, P))
    assert f.severity == "warning" and f.facts["state"] == "dna-detectable-treated"
    assert f.medications == ()


@pytest.mark.parametrize("dna", [hbv_dna(10, 20, comparator="<"), hbv_dna(10, 0), hbv_dna(10, string="Not detected")])
def test_undetectable_recent_dna_is_shown_and_not_ordered_again(dna):
    f = one(hepatitis_b(record(*screened_anti_hbc_positive(), dna), ORDER, P))
    assert f.facts["state"] == "anti-hbc-positive"
    assert "42595-9" not in order_codes(f)
    assert any(e.label == "HBV DNA" for e in f.evidence)


def test_old_dna_result_is_shown_and_a_new_one_suggested():
    f = one(hepatitis_b(record(*screened_anti_hbc_positive(), hbv_dna(400, 0)), ORDER, P))
    assert order_codes(f) == ["42595-9"]


def test_qualitative_and_copies_codes_are_read():
    qual = obs("29610-3", 5, string="Detected")
    copies = obs("29615-2", 5, 1500, "copies/mL")
    for dna in (qual, copies):
        assert one(hepatitis_b(record(*screened_anti_hbc_positive(), dna), ORDER, P)).severity == "critical"


# --- hepatitis B on the problem list ------------------------------------------------------------------

@pytest.mark.parametrize(("code", "system"), [("B18.1", ICD10), ("B18.0", ICD10), ("Z22.51", ICD10),
                                              ("61977001", SNOMED)])
def test_problem_list_hepatitis_b_without_serology_is_hbsag_positive(code, system):
    f = one(hepatitis_b(record(condition(code, system)), ORDER, P))
    assert f.severity == "critical" and f.facts["state"] == "hbsag-positive-untreated"
    assert f.facts["from_problem_list"] is True
    assert "screening missing" not in f.summary
    assert [r.specialty for r in f.referrals] == ["hepatology"]


def test_problem_list_hepatitis_b_outweighs_negative_serology():
    r = record(condition("B18.1"), obs("5196-1", 30, concept=NEG), obs("16933-4", 30, concept=NEG))
    assert one(hepatitis_b(r, ORDER, P)).severity == "critical"


def test_problem_list_hepatitis_b_on_antiviral_is_a_warning():
    f = one(hepatitis_b(record(condition("B18.1"), entecavir()), ORDER, P))
    assert f.severity == "warning" and f.facts["state"] == "hbsag-positive-treated"


def test_resolved_hepatitis_b_on_the_problem_list_does_not_count():
    f = one(hepatitis_b(record(condition("B18.1", status="resolved")), ORDER, P))
    assert f.facts["state"] == "missing"


# --- anti-HBc positive, HBsAg negative ----------------------------------------------------------------

def test_anti_hbc_positive_says_prophylaxis_is_recommended_not_an_equal_option():
    f = one(hepatitis_b(record(*screened_anti_hbc_positive()), ORDER, P))
    assert f.severity == "warning"
    assert "prophylaxis is recommended" in f.summary and "or prophylaxis" not in f.summary
    assert {"aasld-2018-hbv", "aga-2015-hbv"} <= set(f.citations)
    assert order_codes(f) == ["42595-9"] and f.referrals and f.medications


def test_anti_hbc_positive_on_antiviral_is_info():
    f = one(hepatitis_b(record(*screened_anti_hbc_positive(), entecavir()), ORDER, P))
    assert f.severity == "info" and f.medications == ()


# --- pregnancy --------------------------------------------------------------------------------------

@pytest.mark.parametrize("evidence", [
    obs("2106-3", 5, concept=POS),                      # qualitative urine hCG
    obs("2118-8", 5, string="Positive"),                # qualitative serum hCG
    obs("21198-7", 5, 1200, "mIU/mL"),                  # quantitative, no interpretation: cut-off
    obs("82810-3", 5, concept="77386006"),              # pregnancy status: pregnant
    condition("Z33.1"),
    condition("O09.511"),
    condition("77386006", SNOMED),
])
def test_documented_pregnancy_is_a_warning(evidence):
    f = one(pregnancy(record(patient("female", 31), evidence), ORDER, P))
    assert f.severity == "warning" and f.topic == "pregnancy"
    assert f.citations == ("label-pregnancy",)


def test_quantitative_hcg_below_the_cut_off_is_not_pregnancy():
    f = one(pregnancy(record(patient("female", 31), obs("21198-7", 5, 3, "mIU/mL")), ORDER, P))
    assert f.severity == "pass"


def test_old_positive_hcg_or_one_followed_by_a_negative_is_not_current():
    old = one(pregnancy(record(patient("female", 31), obs("2106-3", 120, concept=POS)), ORDER, P))
    assert old.severity == "info"  # no current evidence: only the first-course advisory
    later_negative = pregnancy(record(patient("female", 31), obs("2106-3", 20, concept=POS),
                                      obs("2106-3", 5, concept=NEG)), ORDER, P)
    assert [f.severity for f in later_negative] == ["pass"]


def test_first_course_reproductive_potential_without_a_test_gets_the_contraception_advisory():
    f = one(pregnancy(record(patient("female", 28)), ORDER, P))
    assert f.severity == "info" and f.facts["state"] == "advisory"
    assert [o.code for o in f.orders] == ["2118-8"]


@pytest.mark.parametrize("who", [patient("male", 30), patient("female", 63), patient("female", 9)])
def test_no_advisory_for_anyone_else(who):
    assert pregnancy(record(who), ORDER, P) == []


def test_no_advisory_for_a_patient_already_on_rituximab():
    assert pregnancy(record(patient("female", 28), infusion(180), infusion(166)), ORDER, P) == []


def test_recent_negative_test_passes():
    assert one(pregnancy(record(patient("female", 28), obs("2106-3", 3, concept=NEG)), ORDER, P)).severity == "pass"


# --- active infection -------------------------------------------------------------------------------

def infection(code, onset_days, system=ICD10, status="active"):
    c = condition(code, system, status=status)
    c["onsetDateTime"] = ago(onset_days)
    return c


@pytest.mark.parametrize(("code", "system"), [("J18.9", ICD10), ("A41.9", ICD10), ("L03.115", ICD10),
                                              ("B02.9", ICD10), ("233604007", SNOMED)])
def test_active_infection_inside_the_window_is_a_warning(code, system):
    f = one(active_infection(record(infection(code, 9, system)), ORDER, P))
    assert f.severity == "warning" and f.topic == "infection"
    assert f.citations == ("label-infections",)


def test_infection_outside_the_window_or_resolved_is_not_mentioned():
    assert active_infection(record(infection("J18.9", 60)), ORDER, P) == []
    assert active_infection(record(infection("J18.9", 9, status="resolved")), ORDER, P) == []


def test_active_tuberculosis_has_a_longer_window():
    assert one(active_infection(record(infection("A15.0", 120)), ORDER, P)).severity == "warning"


# --- Pneumocystis prophylaxis -------------------------------------------------------------------------

def test_gpa_without_prophylaxis_is_a_warning_with_a_recommended_tmp_smx_prescription():
    f = one(pneumocystis_prophylaxis(record(condition("M31.31")), ORDER, P))
    assert f.severity == "warning" and f.topic == "infection"
    (med,) = f.medications
    assert med.rxnorm == "198334" and med.recommended is True
    assert "label-pjp" in f.citations


@pytest.mark.parametrize("drug", ["sulfamethoxazole-trimethoprim DS", "atovaquone 1500 mg", "dapsone 100 mg"])
def test_gpa_with_prophylaxis_passes(drug):
    assert one(pneumocystis_prophylaxis(record(condition("M31.7"), statement(drug)), ORDER, P)).severity == "pass"


def test_other_indications_get_no_pjp_card():
    assert pneumocystis_prophylaxis(record(condition("M05.79")), ORDER, P) == []


def test_cll_gets_an_info_advisory_only():
    f = one(pneumocystis_prophylaxis(record(condition("C91.10")), ORDER, P))
    assert f.severity == "info" and not f.medications[0].recommended


# --- reactions: graded by what happened, not by criticality ------------------------------------------

def reaction(criticality, manifestation, severity=None, code=None):
    r = {"manifestation": [{"text": manifestation, **({"coding": [{"system": SNOMED, "code": code}]} if code else {})}]}
    if severity:
        r["severity"] = severity
    return {"resourceType": "AllergyIntolerance", "id": "a1", "criticality": criticality,
            "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": "rituximab"}, "reaction": [r]}


@pytest.mark.parametrize("criticality", ["low", "high", "unable-to-assess"])
@pytest.mark.parametrize(("manifestation", "severity", "code", "expected"), [
    ("Anaphylaxis", None, "39579001", "critical"),
    ("throat swelling, anaphylactic shock", "moderate", None, "critical"),
    ("hypotension", "severe", None, "critical"),
    ("Stevens-Johnson syndrome", None, None, "critical"),
    ("flushing, chills", "moderate", None, "warning"),
    ("rigors", "mild", None, "warning"),
    ("rash", None, None, "warning"),
])
def test_reaction_grade_by_criticality(criticality, manifestation, severity, code, expected):
    f = one(prior_reaction(record(reaction(criticality, manifestation, severity, code)), ORDER, P))
    assert f.severity == expected
    assert f.facts["criticality"] == criticality


def test_moderate_reaction_card_gives_the_labels_premedication_and_rate_advice():
    f = one(prior_reaction(record(reaction("high", "flushing, chills", "moderate")), ORDER, P))
    card = finding_card(f, CTX)
    assert "premedication" in card.detail and "half the previous rate" in card.detail
    assert "EHR default" in card.detail


# --- orders that act --------------------------------------------------------------------------------

def test_suggested_drugs_and_referrals_validate_as_fhir_r4_and_never_join_the_lab_bundle():
    f = one(hepatitis_b(record(condition("B18.1")), ORDER, P))
    card = finding_card(f, CTX).model()
    lab, referral, *drugs = card.suggestions
    assert [a.resource["resourceType"] for a in lab.actions] == ["ServiceRequest"]
    assert lab.actions[0].resource["category"][0]["coding"][0]["code"] == "108252007"
    ServiceRequest.model_validate(referral.actions[0].resource)
    assert referral.actions[0].resource["code"]["coding"][0]["code"] == "3457005"
    for s in drugs:
        (action,) = s.actions
        MedicationRequest.model_validate(action.resource)
        coding = action.resource["medicationCodeableConcept"]["coding"][0]
        assert coding["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
        assert action.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] > 0


def test_order_all_and_singles_are_alternatives_under_at_most_one():
    f = one(hepatitis_b(record(), ORDER, P))  # both screening tests missing
    card = finding_card(f, CTX).model()
    assert card.selectionBehavior == "at-most-one"
    assert [len(s.actions) for s in card.suggestions] == [2, 1, 1]
    codes = [a.resource["code"]["coding"][0]["code"] for a in card.suggestions[0].actions]
    assert codes == ["5196-1", "16933-4"]
    assert card.suggestions[0].label.startswith("Order all: Hepatitis B surface antigen (HBsAg) and ")
    assert [s.isRecommended for s in card.suggestions] == [True, False, False]


def test_a_card_cannot_offer_the_same_order_twice():
    resource = {"resourceType": "ServiceRequest", "code": {"coding": [{"code": "42595-9"}]}}
    twice = [Suggestion(label=f"s{i}", actions=[Action(type="create", description="x", resource=resource)])
             for i in range(2)]
    with pytest.raises(ValueError, match="same resource"):
        Card(summary="s", indicator="info", suggestions=twice, selectionBehavior="any",
             source=Source(label="x", topic=Coding(system="urn:rituximab-cds:topic", code="hbv")))


# --- results that carry only a local lab code (EHR feeds) --------------------------------------------

def local(text, days, concept=None, string=None, value=None, unit=""):
    o = obs("LOCAL", days, value, unit, concept=concept, string=string)
    o["code"] = {"coding": [{"system": "urn:oid:1.2.3.4.5", "code": "HEP123", "display": text}], "text": text}
    return o


def test_locally_coded_hepatitis_b_results_are_read_by_name():
    r = record(local("Hepatitis B Surface Antigen", 20, string="Reactive"), local("HBcAb Total", 20, string="Reactive"))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.severity == "critical" and f.facts["state"] == "hbsag-positive-untreated"


def test_local_look_alikes_do_not_count():
    # Surface antibody is not surface antigen; IgM anti-HBc is not the total antibody the label asks for.
    r = record(local("Hepatitis B Surface Antibody", 20, string="Reactive"),
               local("Hepatitis B core antibody IgM", 20, string="Reactive"))
    f = one(hepatitis_b(r, ORDER, P))
    assert f.facts["state"] == "missing" and f.facts["missing"] == ["HBsAg", "anti-HBc (total)"]


def test_locally_coded_hbv_dna_and_hcg_are_read():
    dna = record(*screened_anti_hbc_positive(), local("HBV DNA PCR, quantitative", 5, value=900, unit="IU/mL"))
    assert one(hepatitis_b(dna, ORDER, P)).severity == "critical"
    pregnant = record(patient("female", 30), local("Pregnancy test, urine", 3, string="Positive"))
    assert one(pregnancy(pregnant, ORDER, P)).severity == "warning"


# --- patient-view: HBV DNA monitoring for the whole hepatitis B picture --------------------------------

def test_hbv_dna_reminder_for_problem_list_hepatitis_b_or_detectable_dna_on_rituximab():
    on_rtx = (infusion(60), infusion(46))
    problem_list = hbv_dna_due(record(*on_rtx, condition("B18.1")), P)
    assert [f.rule_id for f in problem_list] == ["monitoring.hbv-dna"]
    detectable = hbv_dna_due(record(*on_rtx, obs("5196-1", 200, concept=NEG), obs("16933-4", 200, concept=NEG),
                                    hbv_dna(150, 300)), P)
    assert [f.rule_id for f in detectable] == ["monitoring.hbv-dna"]
    assert hbv_dna_due(record(*on_rtx, obs("5196-1", 200, concept=NEG), obs("16933-4", 200, concept=NEG)), P) == []
