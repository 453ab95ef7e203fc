"""Finding rituximab orders: every way an EHR codes one, and what is not one."""

from __future__ import annotations

import pytest

from service.clinical.products import normalize_ndc
from service.hooks.orders import find_rituximab_orders

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"


def order(concept=None, **extra):
    r = {"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order"}
    if concept is not None:
        r["medicationCodeableConcept"] = concept
    r.update(extra)
    return r


@pytest.mark.parametrize(
    ("system", "code", "product"),
    [
        (RXNORM, "121191", "rituximab"),  # ingredient
        (RXNORM, "1657868", "rituximab"),  # Rituxan 50 mL SBD
        (RXNORM, "2105834", "rituximab-abbs"),  # Truxima 50 mL SCD (§6.2)
        (RXNORM, "2273521", "rituximab-pvvr"),  # Ruxience 50 mL SBD
        (RXNORM, "2472327", "rituximab-arrx"),  # Riabni 10 mL SCD
        (RXNORM, "1927894", "rituximab-hyaluronidase"),  # Rituxan Hycela SBD
        (HCPCS, "J9312", "rituximab"),
        (HCPCS, "q5119", "rituximab-pvvr"),
        (HCPCS, "Q5115", "rituximab-abbs"),
        (HCPCS, "Q5123", "rituximab-arrx"),
        (HCPCS, "J9311", "rituximab-hyaluronidase"),
        (NDC, "00069-0249-01", "rituximab-pvvr"),
        (NDC, "63459010450", "rituximab-abbs"),
    ],
)
def test_coded_orders_are_recognised(system, code, product):
    found = find_rituximab_orders([order({"coding": [{"system": system, "code": code}]})])
    assert [o.product_key for o in found] == [product]
    assert found[0].matched_code == code


def test_code_in_the_wrong_system_is_not_rituximab():
    # 121191 under ICD-10 means nothing: no text either, so no match
    found = find_rituximab_orders([order({"coding": [{"system": "http://snomed.info/sct", "code": "121191"}]})])
    assert found == []


def test_contained_medication_reference():
    r = order(
        medicationReference={"reference": "#med1"},
        contained=[{"resourceType": "Medication", "id": "med1",
                    "code": {"coding": [{"system": RXNORM, "code": "2273520"}]}}],
    )
    found = find_rituximab_orders([r])
    assert found[0].product_key == "rituximab-pvvr"
    assert found[0].matched_by == "medication-reference"


def test_bundle_medication_reference():
    med = {"resourceType": "Medication", "id": "m9", "code": {"text": "Truxima 500 mg/50 mL"}}
    found = find_rituximab_orders([order(medicationReference={"reference": "Medication/m9"}), med])
    assert found[0].product_key == "rituximab-abbs"


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("rituximab-pvvr 1000 mg IV", "rituximab-pvvr"),
        ("RITUXAN HYCELA 1400 mg SC", "rituximab-hyaluronidase"),
        ("Rituximab infusion", "rituximab"),
        ("Riabni", "rituximab-arrx"),
    ],
)
def test_text_is_the_last_resort(text, product):
    found = find_rituximab_orders([order({"text": text})])
    assert found[0].product_key == product
    assert found[0].matched_by == "text"


@pytest.mark.parametrize("text", ["methotrexate 15 mg weekly", "antirituximabology", "tocilizumab"])
def test_other_drugs_are_not_rituximab(text):
    assert find_rituximab_orders([order({"text": text})]) == []


def test_selections_focus_order_select():
    a = order({"text": "rituximab"}, id="a")
    b = order({"text": "rituximab"}, id="b")
    found = find_rituximab_orders([a, b], selections=["MedicationRequest/b"])
    assert [o.request["id"] for o in found] == ["b"]


def test_dstu2_medication_order_is_read():
    r = order({"text": "rituximab"})
    r["resourceType"] = "MedicationOrder"
    assert len(find_rituximab_orders([r])) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("00069-0249-01", "00069024901"), ("63459-103-10", "63459010310"),
     ("5024-2005-11", "05024200511"), ("55513-0224-1", "55513022401"),
     ("00069024901", "00069024901"), ("abc", None), ("1-2-3", None)],
)
def test_normalize_ndc(raw, expected):
    assert normalize_ndc(raw) == expected
