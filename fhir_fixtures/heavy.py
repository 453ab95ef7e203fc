"""A heavy, realistic synthetic chart for benchmarks (``python -m fhir_fixtures.heavy``).

An RA patient on rituximab maintenance with ten years of ordinary primary-care
background, shaped like a Synthea record: about 2,000 Observations (vital signs
at every visit, metabolic panels, lipids, HbA1c, CBCs, ESR/CRP), about 100
Conditions (a chronic problem list plus many resolved acute episodes), about
200 medication resources (refills of chronic drugs, short antibiotic courses)
and the rituximab-relevant history (courses every ~26 weeks, the pre-rituximab
work-up).  Deterministic for a given seed; generated, not committed (about 2 MB).

PySynthea was considered (shared/reference/fhir-server.md): it has no
rituximab pathway and its install is ~530 MB, so the background is generated
here from real LOINC / ICD-10-CM / RxNorm codes with the same shape.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from fhir_fixtures.build import (
    METHOTREXATE,
    RA,
    RITUXAN,
    RXNORM,
    Chart,
    draft_order,
    order_sign,
    patient_view,
)
from fhir_fixtures.dates import days_before

PATIENT_ID = "heavy-chart"

# (LOINC, display, unit, typical value, spread) measured at every visit
VITALS = [
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 128, 12),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 80, 8),
    ("8867-4", "Heart rate", "/min", 74, 9),
    ("9279-1", "Respiratory rate", "/min", 15, 2),
    ("8310-5", "Body temperature", "Cel", 36.8, 0.3),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 97, 1.5),
    ("29463-7", "Body weight", "kg", 72, 3),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 26.4, 1.1),
]
METABOLIC_PANEL = [
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 96, 12),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.82, 0.1),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 14, 3),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 140, 2),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 4.2, 0.3),
    ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 103, 2),
    ("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", 25, 2),
    ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 9.4, 0.3),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 24, 6),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 22, 5),
    ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 78, 12),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 0.15),
    ("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/dL", 7.1, 0.3),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 4.2, 0.2),
]
LIPIDS = [
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 196, 18),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 130, 25),
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 55, 6),
    ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", 115, 15),
]
INFLAMMATION = [
    ("4537-7", "Erythrocyte sedimentation rate by Westergren method", "mm/h", 22, 8),
    ("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 6, 3),
]
HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.8, 0.3)

CHRONIC_CONDITIONS = [
    ("I10", "Essential (primary) hypertension"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("R73.03", "Prediabetes"),
    ("E66.9", "Obesity, unspecified"),
    ("M81.0", "Age-related osteoporosis without current pathological fracture"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("F41.9", "Anxiety disorder, unspecified"),
    ("E03.9", "Hypothyroidism, unspecified"),
]
ACUTE_CONDITIONS = [
    ("J01.90", "Acute sinusitis, unspecified"),
    ("J20.9", "Acute bronchitis, unspecified"),
    ("J02.9", "Acute pharyngitis, unspecified"),
    ("N39.0", "Urinary tract infection, site not specified"),
    ("J06.9", "Acute upper respiratory infection, unspecified"),
    ("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"),
    ("M54.50", "Low back pain, unspecified"),
    ("H66.90", "Otitis media, unspecified, unspecified ear"),
]
# (RxNorm ingredient, display, refills are monthly while active)
CHRONIC_DRUGS = [
    ("29046", "lisinopril"), ("83367", "atorvastatin"), ("6809", "metformin"),
    ("7646", "omeprazole"), ("10582", "levothyroxine"), ("4511", "folic acid"),
    ("46041", "alendronate"), ("5521", "hydroxychloroquine"),
]
SHORT_COURSES = [("723", "amoxicillin"), ("5640", "ibuprofen"), ("161", "acetaminophen")]


def _value(rng: random.Random, typical: float, spread: float) -> float:
    return round(max(0.0, rng.gauss(typical, spread)), 2)


def _med_request(chart: Chart, drug: tuple[str, str], days: int, status: str) -> None:
    chart.resources.append({
        "resourceType": "MedicationRequest", "id": chart._id("medreq"), "status": status, "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug[0], "display": drug[1]}],
                                      "text": drug[1]},
        "subject": chart.subject(), "authoredOn": days_before(days),
        "dosageInstruction": [{"text": "as directed"}],
    })


def build_heavy_chart(seed: int = 7, years: int = 10) -> Chart:
    """The heavy chart (see module docstring)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    c = Chart(PATIENT_ID, "1964-03-08", "female", "Lindqvist", "Maja")
    span = years * 365

    c.condition(*RA, onset_days=span)
    for icd in CHRONIC_CONDITIONS:
        c.condition(icd, None, onset_days=rng.randint(400, span))
    for _ in range(100 - 1 - len(CHRONIC_CONDITIONS)):
        c.condition(rng.choice(ACUTE_CONDITIONS), None, onset_days=rng.randint(30, span), status="resolved")

    visits = sorted(rng.sample(range(10, span), 160), reverse=True)
    for day in visits:
        for code, display, unit, typical, spread in VITALS:
            c.lab(code, display, day, _value(rng, typical, spread), unit)
    for day in visits[::6]:  # a metabolic panel every ~6th visit
        for code, display, unit, typical, spread in METABOLIC_PANEL:
            c.lab(code, display, day, _value(rng, typical, spread), unit)
    for day in visits[::20]:
        for code, display, unit, typical, spread in LIPIDS:
            c.lab(code, display, day, _value(rng, typical, spread), unit)
        c.lab(HBA1C[0], HBA1C[1], day, _value(rng, HBA1C[3], HBA1C[4]), HBA1C[2])
    for day in visits[::4]:  # RA monitoring
        for code, display, unit, typical, spread in INFLAMMATION:
            c.lab(code, display, day, _value(rng, typical, spread), unit)
        c.cbc(day, wbc=_value(rng, 6.0, 1.0), anc=_value(rng, 3.6, 0.7), plt=_value(rng, 250, 40),
              hgb=_value(rng, 13.2, 0.8))

    for drug in CHRONIC_DRUGS:  # monthly refills over a stretch of years
        start = rng.randint(600, span)
        for day in range(start, 30, -60)[:20]:
            _med_request(c, drug, day, "completed")
        _med_request(c, drug, 20, "active")
    for _ in range(24):
        _med_request(c, rng.choice(SHORT_COURSES), rng.randint(30, span), "completed")
    c.med_statement(METHOTREXATE, "active", span - 200, dose="15 mg weekly")

    # Rituximab maintenance: two 1000 mg infusions 2 weeks apart every ~26 weeks for 3 years,
    # the last course 26 weeks ago; the work-up before each course.
    for course_start in range(182, 3 * 365, 182):
        c.infusion(RITUXAN, course_start, 1000)
        c.infusion(RITUXAN, course_start - 14, 1000)
        c.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", course_start + 7, _value(rng, 880, 60), "mg/dL")
    c.baseline_labs(days=14, hbv_days=400)
    c.body_size(163, 72, days=14)
    return c


def heavy_requests(seed: int = 7) -> dict[str, Any]:
    """The chart as a transaction Bundle plus an order-sign and a patient-view request (no prefetch)."""
    chart = build_heavy_chart(seed)
    order = draft_order(PATIENT_ID, RITUXAN, 1000, count=2, period_days=14)
    return {
        "bundle": chart.bundle(),
        "order-sign": order_sign(PATIENT_ID, [order], "heavy-order-sign"),
        "patient-view": patient_view(PATIENT_ID),
    }


def resource_counts(bundle: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in bundle["entry"]:
        rtype = entry["resource"]["resourceType"]
        counts[rtype] = counts.get(rtype, 0) + 1
    return counts


if __name__ == "__main__":
    json.dump(resource_counts(heavy_requests()["bundle"]), sys.stdout, indent=1)
    print()
