"""Write the fixture files (``python -m fhir_fixtures.build``).

The JSON files under patients/ and requests/ are the fixtures; this script
is how they were written, so a scenario is a few readable lines here rather
than hundreds of hand-typed JSON lines.  Codes come from
shared/reference/clinical-rules.md (§3, §6); dates are days before ANCHOR.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from fhir_fixtures.dates import datetime_before, days_before
from fhir_fixtures.shapes import EpicShape, cerner_resources, renamed

HERE = Path(__file__).parent
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
NEG = {"coding": [{"system": SNOMED, "code": "260385009", "display": "Negative"}], "text": "Negative"}
POS = {"coding": [{"system": SNOMED, "code": "10828004", "display": "Positive"}], "text": "Positive"}

# (code, display) per drug (clinical-rules.md §3.1, §6.2)
RUXIENCE = ("2273521", "50 ML rituximab-pvvr 10 MG/ML Injection [Ruxience]")
TRUXIMA = ("2105834", "50 ML rituximab-abbs 10 MG/ML Injection")
RITUXAN = ("1657868", "50 ML rituximab 10 MG/ML Injection [Rituxan]")
HYCELA = ("1927894", "13.4 ML hyaluronidase, human recombinant 2000 UNT/ML / rituximab 120 MG/ML Injection [Rituxan Hycela]")
MMF = ("68149", "mycophenolate mofetil")
PREDNISONE = ("8640", "prednisone")
TACROLIMUS = ("42316", "tacrolimus")
IVIG = ("5666", "immunoglobulin G")
METHOTREXATE = ("6851", "methotrexate")
ADALIMUMAB = ("327361", "adalimumab")
ENTECAVIR = ("306266", "entecavir")
TMP_SMX = ("198334", "sulfamethoxazole 400 MG / trimethoprim 80 MG Oral Tablet")


class Chart:
    """Accumulates one patient's resources with ids derived from the scenario."""

    def __init__(self, pid: str, birth: str, gender: str, family: str, given: str) -> None:
        self.pid = pid
        self.n = 0
        self.resources: list[dict[str, Any]] = [{
            "resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender,
            "name": [{"family": family, "given": [given]}],
        }]

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"{self.pid}-{kind}-{self.n}"

    def subject(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.pid}"}

    def condition(self, icd: tuple[str, str] | None, snomed: tuple[str, str] | None, onset_days: int,
                  status: str = "active", verification: str = "confirmed") -> None:
        coding = []
        if icd:
            coding.append({"system": ICD10, "code": icd[0], "display": icd[1]})
        if snomed:
            coding.append({"system": SNOMED, "code": snomed[0], "display": snomed[1]})
        self.resources.append({
            "resourceType": "Condition", "id": self._id("cond"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
            "code": {"coding": coding, "text": (icd or snomed)[1]},  # type: ignore[index]
            "subject": self.subject(),
            "onsetDateTime": days_before(onset_days),
        })

    def lab(self, code: str, display: str, days: int, value: float | None = None, unit: str = "",
            concept: dict[str, Any] | None = None, text: str | None = None) -> None:
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": self._id("obs"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": self.subject(),
            "effectiveDateTime": datetime_before(days),
        }
        if value is not None:
            obs["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        elif concept is not None:
            obs["valueCodeableConcept"] = concept
        elif text is not None:
            obs["valueString"] = text
        if code in ("8302-2", "29463-7"):
            obs["category"][0]["coding"][0]["code"] = "vital-signs"
        self.resources.append(obs)

    def med_statement(self, drug: tuple[str, str], status: str, start_days: int,
                      end_days: int | None = None, dose: str | None = None) -> None:
        period: dict[str, str] = {"start": days_before(start_days)}
        if end_days is not None:
            period["end"] = days_before(end_days)
        st: dict[str, Any] = {
            "resourceType": "MedicationStatement", "id": self._id("medstmt"), "status": status,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug[0], "display": drug[1]}], "text": drug[1]},
            "subject": self.subject(), "effectivePeriod": period, "dateAsserted": days_before(min(start_days, 30)),
        }
        if dose:
            st["dosage"] = [{"text": dose}]
        self.resources.append(st)

    def infusion(self, drug: tuple[str, str], days: int, mg: float) -> None:
        self.resources.append({
            "resourceType": "MedicationAdministration", "id": self._id("admin"), "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": drug[0], "display": drug[1]}], "text": drug[1]},
            "subject": self.subject(), "effectiveDateTime": datetime_before(days, 10),
            "dosage": {"route": {"coding": [{"system": SNOMED, "code": "47625008", "display": "Intravenous route"}]},
                       "dose": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}},
        })

    def ivig(self, days: int, grams: float) -> None:
        self.resources.append({
            "resourceType": "MedicationAdministration", "id": self._id("admin"), "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": IVIG[0], "display": IVIG[1]}], "text": "IVIG"},
            "subject": self.subject(), "effectiveDateTime": datetime_before(days, 10),
            "dosage": {"dose": {"value": grams, "unit": "g", "system": UCUM, "code": "g"}},
        })

    def allergy(self, code: tuple[str, str], criticality: str, manifestation: tuple[str | None, str] | None,
                severity: str = "severe") -> None:
        a: dict[str, Any] = {
            "resourceType": "AllergyIntolerance", "id": self._id("allergy"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
            "category": ["medication"], "criticality": criticality,
            "code": {"coding": [{"system": RXNORM, "code": code[0], "display": code[1]}], "text": code[1]},
            "patient": self.subject(), "recordedDate": days_before(200),
        }
        if manifestation:
            coded = [{"system": SNOMED, "code": manifestation[0], "display": manifestation[1]}] if manifestation[0] else []
            a["reaction"] = [{"manifestation": [{"coding": coded, "text": manifestation[1]} if coded else {"text": manifestation[1]}],
                              "severity": severity}]
        self.resources.append(a)

    def immunization(self, cvx: tuple[str, str], days: int) -> None:
        self.resources.append({
            "resourceType": "Immunization", "id": self._id("imm"), "status": "completed",
            "vaccineCode": {"coding": [{"system": CVX, "code": cvx[0], "display": cvx[1]}]},
            "patient": self.subject(), "occurrenceDateTime": datetime_before(days),
        })

    def body_size(self, height_cm: float, weight_kg: float, days: int = 20) -> None:
        self.lab("8302-2", "Body height", days, height_cm, "cm")
        self.lab("29463-7", "Body weight", days, weight_kg, "kg")

    def baseline_labs(self, days: int = 30, hbv_days: int | None = None, igg: float | None = 950,
                      tb: bool = True, cbc: bool = True, hcv: bool = True, hbv: bool = True) -> None:
        """A complete pre-rituximab work-up (each part can be left out)."""
        if hbv:
            self.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", hbv_days or days, concept=NEG)
            self.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", hbv_days or days, concept=NEG)
        if igg is not None:
            self.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", days, igg, "mg/dL")
            self.lab("2458-8", "IgA [Mass/volume] in Serum or Plasma", days, 210, "mg/dL")
            self.lab("2472-9", "IgM [Mass/volume] in Serum or Plasma", days, 95, "mg/dL")
        if cbc:
            self.cbc(days)
        if tb:
            self.lab("71773-6", "Mycobacterium tuberculosis stimulated gamma interferon [Interpretation] in Blood Qualitative", days + 60, concept=NEG)
        if hcv:
            self.lab("13955-0", "Hepatitis C virus Ab [Presence] in Serum or Plasma by Immunoassay", days + 60, concept=NEG)

    def cbc(self, days: int, wbc: float = 6.2, anc: float = 3.9, plt: float = 245, hgb: float = 13.4) -> None:
        self.lab("6690-2", "Leukocytes [#/volume] in Blood by Automated count", days, wbc, "10*3/uL")
        self.lab("751-8", "Neutrophils [#/volume] in Blood by Automated count", days, anc, "10*3/uL")
        self.lab("777-3", "Platelets [#/volume] in Blood by Automated count", days, plt, "10*3/uL")
        self.lab("718-7", "Hemoglobin [Mass/volume] in Blood", days, hgb, "g/dL")

    def bundle(self) -> dict[str, Any]:
        return transaction(self.resources)


def transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle of PUT entries with fixed ids (reloadable)."""
    return {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + '/' + r['id'])}",
                   "resource": r,
                   "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                  for r in resources],
    }


def draft_order(pid: str, drug: tuple[str, str] | None, dose: float, unit: str = "mg", count: int = 1,
                period_days: float | None = None, route: str = "IV", reason: tuple[str, str] | None = None,
                text: str | None = None, order_id: str | None = None) -> dict[str, Any]:
    timing: dict[str, Any] = {"count": count}
    if period_days is not None:
        timing.update({"period": period_days, "periodUnit": "d", "frequency": 1})
    route_coding = ({"system": SNOMED, "code": "47625008", "display": "Intravenous route"} if route == "IV"
                    else {"system": SNOMED, "code": "34206005", "display": "Subcutaneous route"})
    mr: dict[str, Any] = {
        "resourceType": "MedicationRequest", "id": order_id or f"{pid}-rtx-order", "status": "draft", "intent": "order",
        "subject": {"reference": f"Patient/{pid}"}, "authoredOn": days_before(0),
        "requester": {"reference": "Practitioner/dr-rheum"},
        "dosageInstruction": [{
            "text": text or f"{dose:g} {unit} {route}" + (f" x{count} every {period_days:g} days" if count > 1 else ""),
            "route": {"coding": [route_coding]},
            "timing": {"repeat": timing},
            "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}],
        }],
    }
    if drug:
        mr["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": drug[0], "display": drug[1]}], "text": drug[1]}
    if reason:
        mr["reasonCode"] = [{"coding": [{"system": ICD10, "code": reason[0], "display": reason[1]}]}]
    return mr


def order_sign(pid: str, orders: list[dict[str, Any]], instance: str) -> dict[str, Any]:
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, instance)),
        "context": {
            "userId": "Practitioner/dr-rheum", "patientId": pid, "encounterId": f"{pid}-enc",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": o} for o in orders]},
        },
    }


def patient_view(pid: str) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, "pv-" + pid)),
        "context": {"userId": "Practitioner/dr-rheum", "patientId": pid},
    }


# --- conditions -----------------------------------------------------------------------------------------
DM_ADULT = (("M33.10", "Other dermatomyositis, organ involvement unspecified"), ("396230008", "Dermatomyositis"))
DM_RESP = (("M33.11", "Other dermatomyositis with respiratory involvement"), ("396230008", "Dermatomyositis"))
ASS = (None, ("445187004", "Antisynthetase syndrome"))
PM = (("M33.20", "Polymyositis, organ involvement unspecified"), ("31384009", "Polymyositis"))
ILD = (("J84.170", "Interstitial lung disease with progressive fibrotic phenotype in diseases classified elsewhere"),
       ("233703007", "Interstitial lung disease"))
DYSPHAGIA = (None, ("40739000", "Dysphagia"))
RA = (("M05.79", "Rheumatoid arthritis with rheumatoid factor of multiple sites without organ or systems involvement"),
      ("69896004", "Rheumatoid arthritis"))
GPA = (("M31.31", "Wegener's granulomatosis with renal involvement"), ("195353004", "Granulomatosis with polyangiitis"))
HTN = (("I10", "Essential (primary) hypertension"), None)
OA = (("M17.0", "Bilateral primary osteoarthritis of knee"), None)
LTBI = (("Z22.7", "Latent tuberculosis"), None)
CHRONIC_HBV = (("B18.1", "Chronic viral hepatitis B without delta-agent"), ("61977001", "Chronic type B viral hepatitis"))
PNEUMONIA = (("J18.9", "Pneumonia, unspecified organism"), ("233604007", "Pneumonia"))
PV = (("L10.0", "Pemphigus vulgaris"), ("49420001", "Pemphigus vulgaris"))
PREGNANT = (("Z33.1", "Pregnant state, incidental"), ("77386006", "Pregnant"))
DLBCL = (("C83.38", "Diffuse large B-cell lymphoma, lymph nodes of multiple sites"), None)


def ra_patient(pid: str, **labs: Any) -> Chart:
    """A labeled-indication RA patient (TNF inhibitor failed, on methotrexate)."""
    c = Chart(pid, "1968-04-12", "female", "Okafor", "Ada")
    c.condition(*RA, onset_days=3000)
    c.med_statement(METHOTREXATE, "active", 1500, dose="20 mg weekly")
    c.med_statement(ADALIMUMAB, "stopped", 900, end_days=120, dose="40 mg every 2 weeks (inadequate response)")
    c.baseline_labs(**labs)
    c.body_size(165, 70)
    return c


def refractory_dm_patient(pid: str, **labs: Any) -> Chart:
    """Dermatomyositis with glucocorticoid and methotrexate tried."""
    c = Chart(pid, "1975-09-02", "female", "Marsh", "Lena")
    c.condition(*DM_ADULT, onset_days=1400)
    c.med_statement(PREDNISONE, "active", 1300, dose="10 mg daily")
    c.med_statement(METHOTREXATE, "stopped", 1200, end_days=200, dose="20 mg weekly (inadequate response)")
    c.baseline_labs(**labs)
    c.body_size(168, 64)
    return c


def build() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """scenario -> (patient bundle, hook request)."""
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    # Seed A: DM–antisynthetase overlap on Ruxience 1000 mg every 6 months since 2021.
    a = Chart("seed-a", "1971-06-18", "female", "Reyes", "Maria")
    a.condition(*DM_ADULT, onset_days=2200)
    a.condition(*ASS, onset_days=2200)
    a.lab("8076-2", "Jo-1 extractable nuclear Ab [Presence] in Serum", 2150, concept=POS)
    a.med_statement(MMF, "active", 1900, dose="1000 mg twice daily")
    a.med_statement(PREDNISONE, "completed", 2150, end_days=400, dose="tapered and stopped")
    for days in (1820, 1640, 1460, 1280, 1100, 920, 740, 560, 380, 182):
        a.infusion(RUXIENCE, days, 1000)
    a.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 1850, concept=NEG)
    a.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 1850, concept=NEG)
    a.baseline_labs(days=45, hbv=False)
    a.lab("2157-6", "Creatine kinase [Enzymatic activity/volume] in Serum or Plasma", 45, 98, "U/L")
    a.body_size(162, 61)
    out["seed-a"] = (a.bundle(), order_sign("seed-a", [draft_order("seed-a", RUXIENCE, 1000, reason=DM_ADULT[0])], "seed-a"))
    out.update(shaped_like_ehrs(a, lambda pid: draft_order(pid, RUXIENCE, 1000, reason=DM_ADULT[0])))

    # Seed B: MDA5+ DM with RP-ILD and dysphagia; prednisone + tacrolimus + IVIG; first rituximab course.
    b = Chart("seed-b", "1982-02-25", "female", "Chen", "Wei")
    b.condition(*DM_RESP, onset_days=150)
    b.condition(*ILD, onset_days=60)
    b.condition(*DYSPHAGIA, onset_days=90)
    b.lab("82424-3", "MDA5 Ab [Presence] in Serum by Line blot", 140, concept=POS)
    # The rapid progression the seed describes, as the chart records it: FVC % predicted 82 -> 63 in 8 weeks.
    b.lab("19872-1", "FVC measured/predicted", 70, 82, "%")
    b.lab("19872-1", "FVC measured/predicted", 14, 63, "%")
    b.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 40, concept=NEG)
    b.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 40, concept=NEG)
    b.med_statement(PREDNISONE, "active", 140, dose="60 mg daily")
    b.med_statement(TACROLIMUS, "active", 100, dose="2 mg twice daily")
    b.ivig(21, 60)
    b.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 14, 1650, "mg/dL")
    b.cbc(10)
    b.lab("71773-6", "Mycobacterium tuberculosis stimulated gamma interferon [Interpretation] in Blood Qualitative", 130, concept=NEG)
    b.lab("13955-0", "Hepatitis C virus Ab [Presence] in Serum or Plasma by Immunoassay", 130, concept=NEG)
    b.body_size(160, 55)
    out["seed-b"] = (b.bundle(), order_sign("seed-b", [draft_order("seed-b", TRUXIMA, 1000, count=2, period_days=14,
                                                                    reason=DM_RESP[0])], "seed-b"))

    # Polymyositis, rituximab first-line with no refractory history.
    p = Chart("pm-first-line", "1969-11-30", "male", "Novak", "Petr")
    p.condition(*PM, onset_days=60)
    p.med_statement(PREDNISONE, "active", 45, dose="40 mg daily")
    p.baseline_labs()
    p.body_size(180, 85)
    out["pm-first-line"] = (p.bundle(), order_sign("pm-first-line", [draft_order("pm-first-line", TRUXIMA, 1000, count=2, period_days=14)], "pm"))

    c = ra_patient("ra-labeled")
    out["ra-labeled"] = (c.bundle(), order_sign("ra-labeled", [draft_order("ra-labeled", RITUXAN, 1000, count=2, period_days=14)], "ra"))

    g = Chart("gpa-mg-m2", "1958-01-09", "male", "Lindqvist", "Erik")
    g.condition(*GPA, onset_days=40)
    g.med_statement(PREDNISONE, "active", 35, dose="60 mg daily")
    g.baseline_labs()
    g.body_size(175, 80)
    out["gpa-mg-m2"] = (g.bundle(), order_sign("gpa-mg-m2", [draft_order("gpa-mg-m2", RITUXAN, 375, unit="mg/m2", count=4, period_days=7)], "gpa"))

    n = Chart("no-indication", "1960-07-07", "male", "Brown", "Tom")
    n.condition(*HTN, onset_days=3000)
    n.condition(*OA, onset_days=2000)
    n.baseline_labs()
    out["no-indication"] = (n.bundle(), order_sign("no-indication", [draft_order("no-indication", RITUXAN, 1000)], "noind"))

    h = refractory_dm_patient("hycela-myositis")
    out["hycela-myositis"] = (h.bundle(), order_sign("hycela-myositis", [draft_order("hycela-myositis", HYCELA, 1400, route="SC")], "hycela"))

    r8 = ra_patient("repeat-8-weeks")
    r8.infusion(RITUXAN, 56, 1000)
    r8.infusion(RITUXAN, 42, 1000)
    out["repeat-8-weeks"] = (r8.bundle(), order_sign("repeat-8-weeks", [draft_order("repeat-8-weeks", RITUXAN, 1000)], "r8"))

    d2 = ra_patient("dose-2000mg")
    out["dose-2000mg"] = (d2.bundle(), order_sign("dose-2000mg", [draft_order("dose-2000mg", RITUXAN, 2000)], "d2000"))

    # --- safety scenarios (each isolates one problem on an otherwise appropriate RA order) ---
    def ra_order(pid: str) -> dict[str, Any]:
        return order_sign(pid, [draft_order(pid, RITUXAN, 1000, count=2, period_days=14)], pid)

    s = ra_patient("hbsag-positive-untreated", hbv=False)
    s.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 20, concept=POS)
    s.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 20, concept=POS)
    out["hbsag-positive-untreated"] = (s.bundle(), ra_order("hbsag-positive-untreated"))

    s = ra_patient("hbsag-positive-entecavir", hbv=False)
    s.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 20, concept=POS)
    s.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 20, concept=POS)
    s.med_statement(ENTECAVIR, "active", 15, dose="0.5 mg daily")
    out["hbsag-positive-entecavir"] = (s.bundle(), ra_order("hbsag-positive-entecavir"))

    s = ra_patient("hbv-never-screened", hbv=False)
    out["hbv-never-screened"] = (s.bundle(), ra_order("hbv-never-screened"))

    s = ra_patient("igg-low", igg=None)
    s.infusion(RITUXAN, 200, 1000)
    s.infusion(RITUXAN, 186, 1000)
    s.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 250, 520, "mg/dL")
    s.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 30, 350, "mg/dL")
    out["igg-low"] = (s.bundle(), ra_order("igg-low"))

    s = ra_patient("igg-missing-continuing", igg=None)
    s.infusion(RITUXAN, 196, 1000)
    s.infusion(RITUXAN, 182, 1000)
    s.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 420, 880, "mg/dL")
    out["igg-missing-continuing"] = (s.bundle(), ra_order("igg-missing-continuing"))

    s = ra_patient("latent-tb-untreated", tb=False)
    s.lab("71773-6", "Mycobacterium tuberculosis stimulated gamma interferon [Interpretation] in Blood Qualitative", 25, concept=POS)
    s.condition(*LTBI, onset_days=25)
    out["latent-tb-untreated"] = (s.bundle(), ra_order("latent-tb-untreated"))

    s = ra_patient("live-vaccine-recent")
    s.immunization(("03", "measles, mumps and rubella virus vaccine"), 14)
    out["live-vaccine-recent"] = (s.bundle(), ra_order("live-vaccine-recent"))

    s = ra_patient("rituximab-anaphylaxis")
    s.allergy(("121191", "rituximab"), "high", ("39579001", "Anaphylaxis"))
    out["rituximab-anaphylaxis"] = (s.bundle(), ra_order("rituximab-anaphylaxis"))

    # Second review (issue 12): charts where the label names a danger.
    s = ra_patient("hbv-dna-detectable", hbv=False)
    s.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 30, concept=NEG)
    s.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 30, concept=POS)
    s.lab("42595-9", "Hepatitis B virus DNA [Units/volume] (viral load) in Serum or Plasma by NAA with probe detection",
          10, 420, "[IU]/mL")
    out["hbv-dna-detectable"] = (s.bundle(), ra_order("hbv-dna-detectable"))

    s = ra_patient("hbv-problem-list", hbv=False)
    s.condition(*CHRONIC_HBV, onset_days=4000)
    out["hbv-problem-list"] = (s.bundle(), ra_order("hbv-problem-list"))

    # Pemphigus vulgaris, 31 years old, first course, positive hCG and a pregnancy on the problem list.
    s = Chart("pregnant-pemphigus", "1995-05-14", "female", "Haddad", "Lina")
    s.condition(*PV, onset_days=200)
    s.condition(*PREGNANT, onset_days=40)
    s.med_statement(PREDNISONE, "active", 180, dose="40 mg daily, tapering")
    s.baseline_labs()
    s.lab("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine", 12, concept=POS)
    s.body_size(166, 60)
    out["pregnant-pemphigus"] = (s.bundle(), order_sign("pregnant-pemphigus", [
        draft_order("pregnant-pemphigus", RITUXAN, 1000, count=2, period_days=14, reason=PV[0])], "pregnant-pv"))

    # RA maintenance course nine days after a pneumonia was diagnosed.
    s = ra_patient("pneumonia-maintenance")
    s.infusion(RITUXAN, 196, 1000)
    s.infusion(RITUXAN, 182, 1000)
    s.condition(*PNEUMONIA, onset_days=9)
    out["pneumonia-maintenance"] = (s.bundle(), ra_order("pneumonia-maintenance"))

    # GPA induction with trimethoprim-sulfamethoxazole already on the list: no PJP card.
    g = Chart("gpa-pjp-prophylaxis", "1961-03-21", "female", "Moreau", "Claire")
    g.condition(*GPA, onset_days=30)
    g.med_statement(PREDNISONE, "active", 28, dose="60 mg daily")
    g.med_statement(TMP_SMX, "active", 20, dose="1 tablet daily")
    g.baseline_labs()
    g.body_size(170, 72)
    out["gpa-pjp-prophylaxis"] = (g.bundle(), order_sign("gpa-pjp-prophylaxis", [
        draft_order("gpa-pjp-prophylaxis", RITUXAN, 375, unit="mg/m2", count=4, period_days=7)], "gpa-pjp"))

    # A moderate infusion reaction (flushing) recorded with the EHR's default criticality "high".
    s = ra_patient("reaction-moderate-high-criticality")
    s.infusion(RITUXAN, 196, 1000)
    s.infusion(RITUXAN, 182, 1000)
    s.allergy(("121191", "rituximab"), "high", (None, "Flushing and chills during the infusion"),
              severity="moderate")
    out["reaction-moderate-high-criticality"] = (s.bundle(), ra_order("reaction-moderate-high-criticality"))

    # Issue 13: regimen-aware charts.
    # DLBCL on R-CHOP, cycle 3 (375 mg/m2 on day 1 of 21-day cycles); work-up done at cycle 1, no IGRA, no IgG.
    o = Chart("dlbcl-rchop-cycle3", "1962-08-30", "male", "Okonkwo", "Chidi")
    o.condition(*DLBCL, onset_days=60)
    o.med_statement(PREDNISONE, "active", 43, dose="100 mg days 1-5 of each cycle (CHOP)")
    o.baseline_labs(days=48, igg=None, tb=False)
    o.cbc(2)
    o.body_size(178, 84)
    for days in (42, 21):
        o.infusion(RITUXAN, days, 760)
    out["dlbcl-rchop-cycle3"] = (o.bundle(), order_sign("dlbcl-rchop-cycle3", [
        draft_order("dlbcl-rchop-cycle3", RITUXAN, 375, unit="mg/m2", reason=DLBCL[0])], "dlbcl-c3"))

    # DLBCL after the sixth and last R-CHOP cycle: patient-view has no next course to announce.
    o = Chart("dlbcl-after-6-cycles", "1957-02-11", "female", "Varga", "Eszter")
    o.condition(*DLBCL, onset_days=200)
    for k in range(6):
        o.infusion(RITUXAN, 60 + 21 * (5 - k), 700)
    o.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 180, concept=NEG)
    o.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 180, concept=NEG)
    o.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 40, 720, "mg/dL")
    o.cbc(20)
    out["dlbcl-after-6-cycles"] = (o.bundle(), patient_view("dlbcl-after-6-cycles"))

    # GPA induction 375 mg/m2 weekly x4 for a large adult (BSA 2.35 m2): 881 mg per dose, no course total applies.
    g = Chart("gpa-large-bsa", "1970-05-05", "male", "Halvorsen", "Nils")
    g.condition(*GPA, onset_days=25)
    g.med_statement(PREDNISONE, "active", 20, dose="1 mg/kg daily")
    g.med_statement(TMP_SMX, "active", 15, dose="1 tablet daily")
    g.baseline_labs()
    g.body_size(188, 106)
    out["gpa-large-bsa"] = (g.bundle(), order_sign("gpa-large-bsa", [
        draft_order("gpa-large-bsa", RITUXAN, 375, unit="mg/m2", count=4, period_days=7)], "gpa-large"))

    # RA, second course 26 weeks after the first, everything in order: exactly one card, the summary.
    c = ra_patient("ra-all-in-order")
    c.infusion(RITUXAN, 196, 1000)
    c.infusion(RITUXAN, 182, 1000)
    out["ra-all-in-order"] = (c.bundle(), ra_order("ra-all-in-order"))

    # --- patient-view ---
    v = Chart("pv-overdue", "1966-03-03", "female", "Silva", "Ana")
    v.condition(*RA, onset_days=3000)
    v.med_statement(METHOTREXATE, "active", 1500)
    v.infusion(RITUXAN, 224, 1000)
    v.infusion(RITUXAN, 210, 1000)
    v.lab("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum or Plasma by Immunoassay", 260, concept=NEG)
    v.lab("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", 260, concept=NEG)
    v.lab("2465-3", "IgG [Mass/volume] in Serum or Plasma", 245, 820, "mg/dL")
    v.cbc(150)
    out["pv-overdue"] = (v.bundle(), patient_view("pv-overdue"))

    v = Chart("pv-never-rituximab", "1979-12-12", "male", "Kowalski", "Jan")
    v.condition(*RA, onset_days=800)
    v.med_statement(METHOTREXATE, "active", 700)
    v.cbc(60)
    out["pv-never-rituximab"] = (v.bundle(), patient_view("pv-never-rituximab"))
    return out


def shaped_like_ehrs(chart: Chart, order: Any) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Epic- and Cerner-shaped copies of one patient (fhir_fixtures/shapes.py), same draft order."""
    out = {}
    epic_id = f"{chart.pid}-epic"
    epic = EpicShape(epic_id)
    resources = epic.resources(renamed(chart.resources, chart.pid, epic_id))
    epic_order = order(epic_id)
    # The draft order names its drug only by a reference to a Medication on the server.
    epic_order["medicationReference"] = {"reference": epic.medication_for(epic_order.pop("medicationCodeableConcept"))}
    resources += [m for m in epic.medications.values() if m not in resources]
    out[epic_id] = (transaction(resources), order_sign(epic_id, [epic_order], epic_id))
    cerner_id = f"{chart.pid}-cerner"
    out[cerner_id] = (transaction(cerner_resources(renamed(chart.resources, chart.pid, cerner_id))),
                      order_sign(cerner_id, [order(cerner_id)], cerner_id))
    return out


def request_variants(scenarios: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Other shapes of the same patients' requests (sandbox quirks, coding variants)."""
    seed_a = scenarios["seed-a"][1]
    variants: dict[str, dict[str, Any]] = {}

    sandbox = json.loads(json.dumps(seed_a))
    order = sandbox["context"]["draftOrders"]["entry"][0]["resource"]
    sandbox["context"]["draftOrders"].pop("type")
    sandbox["context"].pop("encounterId")
    order.pop("intent")
    order["status"] = "active"
    order["category"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "outpatient"}]}
    sandbox["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "seed-a-sandbox"))
    variants["seed-a.sandbox"] = sandbox

    def recoded(name: str, concept: dict[str, Any] | None, **extra: Any) -> None:
        req = json.loads(json.dumps(seed_a))
        o = req["context"]["draftOrders"]["entry"][0]["resource"]
        o.pop("medicationCodeableConcept")
        if concept is not None:
            o["medicationCodeableConcept"] = concept
        o.update(extra)
        req["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        variants[name] = req

    recoded("seed-a.hcpcs", {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "Q5119"}]})
    recoded("seed-a.ndc", {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "00069-0249-01"}]})
    recoded("seed-a.text", {"text": "rituximab-pvvr 1000 mg IV"})
    recoded("seed-a.contained", None, medicationReference={"reference": "#rtx"}, contained=[{
        "resourceType": "Medication", "id": "rtx",
        "code": {"coding": [{"system": RXNORM, "code": RUXIENCE[0], "display": RUXIENCE[1]}]}}])
    recoded("seed-a.methotrexate", {"coding": [{"system": RXNORM, "code": METHOTREXATE[0], "display": "methotrexate"}]})

    select = json.loads(json.dumps(scenarios["seed-b"][1]))
    select["hook"] = "order-select"
    select["hookInstance"] = str(uuid.uuid5(uuid.NAMESPACE_URL, "seed-b-select"))
    other = draft_order("seed-b", PREDNISONE, 60, order_id="seed-b-pred-order", text="prednisone 60 mg daily")
    select["context"]["draftOrders"]["entry"].append({"resource": other})
    select["context"]["selections"] = ["MedicationRequest/seed-b-rtx-order"]
    variants["seed-b.order-select"] = select
    return variants


def main() -> None:
    scenarios = build()
    for name, (bundle, request) in scenarios.items():
        (HERE / "patients" / f"{name}.json").write_text(json.dumps(bundle, indent=1) + "\n")
        (HERE / "requests" / f"{name}.json").write_text(json.dumps(request, indent=1) + "\n")
    for name, request in request_variants(scenarios).items():
        (HERE / "requests" / f"{name}.json").write_text(json.dumps(request, indent=1) + "\n")


if __name__ == "__main__":
    main()
