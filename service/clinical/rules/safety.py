"""Pre-infusion safety work-up: HBV, immunoglobulins, TB, HCV, CBC, vaccines, prior reactions.

Windows, thresholds and test codes are in knowledge/safety.yaml, each with
its source.  What the label requires (HBsAg + anti-HBc before initiating;
CBC with platelets before the first dose; no live vaccines) is kept apart
from guideline or local policy (IgG before each course, TB screening, HCV).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.clinical import labs
from service.clinical.engine import order_rule
from service.clinical.fhir_values import (
    codings,
    concept_text,
    condition_is_active,
    effective_datetime,
    is_entered_in_error,
    qualitative_result,
    quantity,
)
from service.clinical.findings import Evidence, Finding, OrderSuggestion
from service.clinical.labs import Result
from service.clinical.medications import uses_of_class
from service.clinical.policy import Policy
from service.clinical.products import match_concept, match_text
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.rituximab_history import prior_doses
from service.clinical.units import cells_per_ul, igg_mg_dl
from service.knowledge import load

MED_SECTIONS = ("medicationStatements", "medicationRequests", "medicationAdministrations")


def cfg(section: str) -> dict[str, Any]:
    return load("safety")[section]  # type: ignore[no-any-return]


def test_codes(key: str) -> list[str]:
    return cfg("tests")[key]["loinc"]  # type: ignore[no-any-return]


def order_of(key: str, reason: str | None = None) -> OrderSuggestion:
    spec = cfg("tests")[key]["order"]
    return OrderSuggestion(code=spec["code"], display=spec["display"], reason=reason)


def months(n: float) -> timedelta:
    return timedelta(days=round(n * 30.44))


def ivig_dates(record: PatientRecord) -> list[datetime]:
    """When IVIG was given (administrations, or statement/request starts), newest first."""
    out = [u.start for u in uses_of_class(record, "ivig") if u.start]
    return sorted(out, reverse=True)


def _after_ivig(record: PatientRecord, when: datetime | None, window: timedelta) -> datetime | None:
    """The IVIG dose that ``when`` follows within ``window`` (None if none)."""
    if when is None:
        return None
    for given in ivig_dates(record):
        if timedelta(0) <= when - given <= window:
            return given
    return None


def on_rituximab(record: PatientRecord, order: OrderUnderReview | None = None) -> bool:
    exclude = frozenset(x for x in ((order.request.get("id") if order else None),) if x)
    return bool(prior_doses(record, exclude))


# --- hepatitis B ------------------------------------------------------------------------------------


@order_rule("safety.hbv", "Hepatitis B screening", needs=["observations", *MED_SECTIONS], scope="patient")
def hepatitis_b(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("hbv")
    continuing = on_rituximab(record, order)
    window = None if continuing else months(conf["first_course_lookback_months"])
    hbsag_all = labs.results(record, test_codes("hbsag"))
    anti_hbc_all = labs.results(record, test_codes("anti_hbc"))
    evidence: list[Evidence] = []
    citations = ["label-hbv-cbc"]
    antiviral = [u for u in uses_of_class(record, "hbv_antivirals") if u.active]

    def acceptable(results: list[Result]) -> Result | None:
        for r in results:
            if r.when and (window is None or record.now - r.when <= window):
                return r
        return None

    hbsag = hbsag_all[0] if hbsag_all else None
    anti_hbc = anti_hbc_all[0] if anti_hbc_all else None
    for r, label in ((hbsag, "HBsAg"), (anti_hbc, "anti-HBc")):
        if r:
            evidence.append(labs.evidence(record, r, label))
    evidence += [
        Evidence(u.resource_type, u.resource_id, u.name, "current", None, origin=record.origin_of(u.resource_type))
        for u in antiviral[:1]
    ]
    base = {
        "continuing": continuing,
        "lookback_months": None if continuing else conf["first_course_lookback_months"],
    }

    if hbsag and qualitative_result(hbsag.resource) == "positive":
        if antiviral:
            return [
                Finding(
                    "safety.hbv",
                    "1",
                    "hbv",
                    "warning",
                    "HBsAg positive, on antiviral therapy: monitor HBV DNA during and after rituximab",
                    facts={**base, "state": "hbsag-positive-treated", "antiviral": antiviral[0].name},
                    evidence=tuple(evidence),
                    citations=tuple(citations),
                    orders=(order_of("hbv_dna", "HBsAg positive on antiviral: monitoring"),),
                    override_reasons=("specialist-reviewed", "already-ordered"),
                )
            ]
        return [
            Finding(
                "safety.hbv",
                "1",
                "hbv",
                "critical",
                "HBsAg positive with no antiviral: HBV reactivation risk; consult hepatology first",
                facts={**base, "state": "hbsag-positive-untreated"},
                evidence=tuple(evidence),
                citations=tuple(citations),
                missing=("An antiviral active against HBV (entecavir, tenofovir) started before rituximab",),
                orders=(order_of("hbv_dna", "HBsAg positive before rituximab"),),
                override_reasons=("specialist-reviewed", "documented-elsewhere", "benefit-outweighs-risk"),
            )
        ]

    if anti_hbc and qualitative_result(anti_hbc.resource) == "positive":
        ivig = _after_ivig(record, anti_hbc.when, timedelta(weeks=conf["anti_hbc_after_ivig_weeks"]))
        if ivig:
            citations.append("ivig-anti-hbc")
            evidence.append(
                Evidence(
                    "MedicationAdministration",
                    None,
                    "IVIG given",
                    None,
                    ivig.date().isoformat(),
                    origin=record.origin_of("MedicationAdministration"),
                )
            )
            return [
                Finding(
                    "safety.hbv",
                    "1",
                    "hbv",
                    "warning",
                    "Anti-HBc positive within 12 weeks of IVIG: possibly passive transfer; check HBV DNA",
                    facts={
                        **base,
                        "state": "anti-hbc-after-ivig",
                        "ivig_date": ivig.date().isoformat(),
                        "days_after_ivig": (anti_hbc.when - ivig).days if anti_hbc.when else None,
                    },
                    evidence=tuple(evidence),
                    citations=tuple(citations),
                    orders=(order_of("hbv_dna", "anti-HBc positive after IVIG"),),
                    override_reasons=("specialist-reviewed", "already-ordered", "documented-elsewhere"),
                )
            ]
        return [
            Finding(
                "safety.hbv",
                "1",
                "hbv",
                "info" if antiviral else "warning",
                (
                    "Anti-HBc positive, on antiviral prophylaxis: continue HBV monitoring"
                    if antiviral
                    else "Anti-HBc positive, HBsAg negative: reactivation risk; HBV DNA monitoring or prophylaxis"
                ),
                facts={
                    **base,
                    "state": "anti-hbc-positive",
                    "antiviral": antiviral[0].name if antiviral else None,
                },
                evidence=tuple(evidence),
                citations=tuple(citations),
                orders=(order_of("hbv_dna", "anti-HBc positive"),),
                override_reasons=("specialist-reviewed", "already-ordered", "documented-elsewhere"),
            )
        ]

    missing_keys = []
    recent_hbsag = acceptable([r for r in hbsag_all if qualitative_result(r.resource) == "negative"])
    recent_hbc = acceptable([r for r in anti_hbc_all if qualitative_result(r.resource) == "negative"])
    if recent_hbsag is None:
        missing_keys.append("hbsag")
    if recent_hbc is None:
        missing_keys.append("anti_hbc")
    if missing_keys:
        span = (
            "ever (any earlier negative result is enough for a patient already on rituximab)"
            if continuing
            else f"in the last {conf['first_course_lookback_months']} months"
        )
        names = {"hbsag": "HBsAg", "anti_hbc": "anti-HBc (total)"}
        summary = "Hepatitis B screening missing: " + " and ".join(names[k] for k in missing_keys) + " before rituximab"
        return [
            Finding(
                "safety.hbv",
                "1",
                "hbv",
                "warning",
                summary,
                facts={**base, "state": "missing", "missing": [names[k] for k in missing_keys]},
                evidence=tuple(evidence),
                citations=tuple(citations),
                missing=tuple(f"A negative {names[k]} result {span}" for k in missing_keys),
                orders=tuple(order_of(k, "HBV screening before rituximab (label)") for k in missing_keys),
                override_reasons=("documented-elsewhere", "already-ordered"),
            )
        ]
    return [
        Finding(
            "safety.hbv",
            "1",
            "hbv",
            "pass",
            "HBsAg and anti-HBc negative",
            facts={**base, "state": "screened"},
            evidence=tuple(evidence),
            citations=tuple(citations),
        )
    ]


# --- immunoglobulins --------------------------------------------------------------------------------


def _igg_values(record: PatientRecord) -> list[tuple[Result, float | None]]:
    out = []
    for r in labs.results(record, test_codes("igg")):
        q = quantity(r.resource)
        out.append((r, igg_mg_dl(*q) if q else None))
    return out


@order_rule("safety.immunoglobulins", "Immunoglobulins (IgG)", needs=["observations", *MED_SECTIONS], scope="patient")
def immunoglobulins(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("immunoglobulins")
    window = months(conf["lookback_months"])
    values = _igg_values(record)
    after_ivig = timedelta(days=conf["after_ivig_days"])
    citations = ("buch-2011", "barmettler-2018")
    orders = tuple(order_of(k, "IgG before each rituximab course") for k in ("igg", "iga", "igm"))
    recent = [(r, v) for r, v in values if r.when and record.now - r.when <= window]
    own = [(r, v) for r, v in recent if _after_ivig(record, r.when, after_ivig) is None]
    evidence = [labs.evidence(record, r, "IgG") for r, _ in values[:3]]
    trend = [{"date": r.when.date().isoformat() if r.when else None, "mg_dl": v} for r, v in values[:3]]
    if not recent:
        return [
            Finding(
                "safety.immunoglobulins",
                "1",
                "immunoglobulins",
                "warning",
                f"No IgG in the last {conf['lookback_months']} months: check immunoglobulins before this course",
                facts={"state": "missing", "trend": trend},
                evidence=tuple(evidence),
                missing=(f"Serum IgG (LOINC 2465-3) within {conf['lookback_months']} months",),
                citations=citations,
                orders=orders,
                override_reasons=("already-ordered", "documented-elsewhere"),
            )
        ]
    if not own:
        r, _ = recent[0]
        given = _after_ivig(record, r.when, after_ivig)
        days = (r.when - given).days if r.when and given else None
        return [
            Finding(
                "safety.immunoglobulins",
                "1",
                "immunoglobulins",
                "info",
                "IgG was drawn within 28 days after IVIG: it does not reflect the patient's own level",
                facts={
                    "state": "after-ivig",
                    "days_after_ivig": days,
                    "trend": trend,
                    "ivig_date": given.date().isoformat() if given else None,
                },
                evidence=tuple(evidence),
                citations=(*citations, "ivig-half-life"),
                missing=("An IgG drawn before IVIG, or more than 28 days after the last dose",),
                override_reasons=("documented-elsewhere", "not-applicable"),
            )
        ]
    latest, value = own[0]
    if value is None:
        return [
            Finding(
                "safety.immunoglobulins",
                "1",
                "immunoglobulins",
                "warning",
                "IgG result has a unit the service cannot interpret: review it",
                facts={"state": "unit-unknown", "trend": trend},
                evidence=tuple(evidence),
                citations=citations,
                override_reasons=("documented-elsewhere",),
            )
        ]
    if value < conf["low_mg_dl"]:
        band = next(b["label"] for b in conf["bands"] if value < b["below"])
        return [
            Finding(
                "safety.immunoglobulins",
                "1",
                "immunoglobulins",
                "warning",
                f"Low IgG ({value:.0f} mg/dL, {band} hypogammaglobulinemia) before rituximab",
                facts={
                    "state": "low",
                    "value_mg_dl": round(value),
                    "band": band,
                    "threshold": conf["low_mg_dl"],
                    "date": latest.when.date().isoformat() if latest.when else None,
                    "trend": trend,
                },
                evidence=tuple(evidence),
                citations=citations,
                override_reasons=("benefit-outweighs-risk", "specialist-reviewed"),
            )
        ]
    return [
        Finding(
            "safety.immunoglobulins",
            "1",
            "immunoglobulins",
            "pass",
            f"IgG {value:.0f} mg/dL",
            facts={"state": "ok", "value_mg_dl": round(value), "trend": trend},
            evidence=tuple(evidence),
            citations=citations,
        )
    ]


# --- tuberculosis -----------------------------------------------------------------------------------


def _latent_tb_conditions(record: PatientRecord) -> list[Evidence]:
    conf = cfg("tb")
    out = []
    for c in record.conditions:
        if not condition_is_active(c):
            continue
        for system, code, display in codings(c.get("code")):
            if (
                (system.endswith("icd-10-cm") or not system)
                and code.upper() in conf["latent_tb_icd10"]
                or (system.endswith("snomed.info/sct") and code in conf["latent_tb_snomed"])
            ):
                when = effective_datetime(c)
                out.append(
                    Evidence(
                        "Condition",
                        c.get("id"),
                        display or code,
                        None,
                        when.date().isoformat() if when else None,
                        origin=record.origin_of("Condition"),
                    )
                )
                break
    return out


@order_rule(
    "safety.tb",
    "Tuberculosis screening",
    needs=["observations", "conditions", *MED_SECTIONS],
    scope="patient",
)
def tuberculosis(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    if policy.tb_screening == "off":
        return []
    conf = cfg("tb")
    advisory = policy.tb_screening == "advisory"
    results = labs.results(record, test_codes("igra") + test_codes("tst"))
    recent = [r for r in results if r.when and record.now - r.when <= months(conf["lookback_months"])]
    latent = _latent_tb_conditions(record)
    treated = uses_of_class(record, "latent_tb_treatment")
    evidence = [labs.evidence(record, r) for r in recent[:2]] + latent
    facts: dict[str, Any] = {"policy": policy.tb_screening, "lookback_months": conf["lookback_months"]}
    citations = ("buch-2011",)
    positive = [r for r in results if qualitative_result(r.resource) == "positive"]
    if positive or latent:
        if treated:
            evidence.append(
                Evidence(
                    treated[0].resource_type,
                    treated[0].resource_id,
                    treated[0].name,
                    "current" if treated[0].active else treated[0].status,
                    None,
                    origin=record.origin_of(treated[0].resource_type),
                )
            )
            return [
                Finding(
                    "safety.tb",
                    "1",
                    "tb",
                    "pass",
                    "Latent TB with treatment documented",
                    facts={**facts, "state": "treated"},
                    evidence=tuple(evidence),
                    citations=citations,
                )
            ]
        evidence += [labs.evidence(record, r) for r in positive[:1] if r not in recent[:2]]
        return [
            Finding(
                "safety.tb",
                "1",
                "tb",
                "warning",
                "Positive TB test or latent TB without documented treatment",
                facts={**facts, "state": "positive-untreated"},
                evidence=tuple(dict.fromkeys(evidence)),
                missing=("Treatment for latent TB (isoniazid, rifampin or rifapentine) or an ID/TB specialist's note",),
                citations=citations,
                override_reasons=("specialist-reviewed", "documented-elsewhere"),
            )
        ]
    if recent and qualitative_result(recent[0].resource) == "indeterminate":
        return [
            Finding(
                "safety.tb",
                "1",
                "tb",
                "info" if advisory else "warning",
                "Indeterminate TB test result: repeat the IGRA if screening is intended",
                facts={**facts, "state": "indeterminate"},
                evidence=tuple(evidence),
                citations=citations,
                orders=(order_of("igra", "repeat after indeterminate result"),),
                override_reasons=("not-applicable", "documented-elsewhere"),
            )
        ]
    if not recent:
        return [
            Finding(
                "safety.tb",
                "1",
                "tb",
                "info" if advisory else "warning",
                f"No TB screening (IGRA or skin test) in the last {conf['lookback_months']} months",
                facts={**facts, "state": "missing"},
                evidence=tuple(evidence),
                missing=(f"An IGRA or tuberculin skin test within {conf['lookback_months']} months",),
                citations=citations,
                orders=(order_of("igra", "TB screening per local policy"),),
                override_reasons=("not-applicable", "documented-elsewhere", "already-ordered"),
            )
        ]
    return [
        Finding(
            "safety.tb",
            "1",
            "tb",
            "pass",
            "TB screening negative",
            facts={**facts, "state": "negative"},
            evidence=tuple(evidence),
            citations=citations,
        )
    ]


# --- hepatitis C ------------------------------------------------------------------------------------


@order_rule("safety.hcv", "Hepatitis C screening", needs=["observations"], scope="patient")
def hepatitis_c(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    results = labs.results(record, test_codes("hcv_ab"))
    if not results:
        return [
            Finding(
                "safety.hcv",
                "1",
                "hcv",
                "info",
                "No hepatitis C antibody result on file (advisory)",
                facts={"state": "missing"},
                missing=("An HCV antibody result (LOINC 13955-0 or 16128-1)",),
                orders=(order_of("hcv_ab", "commonly part of pre-immunosuppression screening"),),
                override_reasons=("not-applicable", "documented-elsewhere", "already-ordered"),
            )
        ]
    latest = results[0]
    evidence = (labs.evidence(record, latest, "HCV antibody"),)
    if qualitative_result(latest.resource) == "positive":
        return [
            Finding(
                "safety.hcv",
                "1",
                "hcv",
                "warning",
                "HCV antibody positive: check HCV RNA before rituximab",
                facts={"state": "positive"},
                evidence=evidence,
                orders=(order_of("hcv_rna", "HCV antibody positive"),),
                override_reasons=("specialist-reviewed", "documented-elsewhere"),
            )
        ]
    return [
        Finding(
            "safety.hcv",
            "1",
            "hcv",
            "pass",
            "HCV antibody on file",
            facts={"state": "on-file"},
            evidence=evidence,
        )
    ]


# --- blood counts -----------------------------------------------------------------------------------


@order_rule("safety.cbc", "Blood counts", needs=["observations"], scope="patient")
def blood_counts(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("cbc")
    window = timedelta(days=conf["lookback_days"])
    keys = ("wbc", "anc", "platelets", "hemoglobin")
    latest: dict[str, Result] = {}
    for key in keys:
        found = [r for r in labs.results(record, test_codes(key)) if r.when and record.now - r.when <= window]
        if found:
            latest[key] = found[0]
    evidence = tuple(labs.evidence(record, r, cfg("tests")[k]["display"]) for k, r in latest.items())
    missing = [k for k in ("wbc", "anc", "platelets") if k not in latest]
    citations = ("label-hbv-cbc",)
    if missing:
        orders = tuple(
            order_of(k, "CBC with differential and platelets before rituximab (label)")
            for k in (*missing, *(["hemoglobin"] if "hemoglobin" not in latest else []))
        )
        names = ", ".join(cfg("tests")[k]["display"] for k in missing)
        return [
            Finding(
                "safety.cbc",
                "1",
                "cbc",
                "warning",
                f"No complete blood count in the last {conf['lookback_days']} days",
                facts={"state": "missing", "missing": names},
                evidence=evidence,
                missing=(f"{names} within {conf['lookback_days']} days",),
                citations=citations,
                orders=orders,
                override_reasons=("already-ordered", "documented-elsewhere"),
            )
        ]
    problems = []
    for key, threshold, label in (
        ("anc", conf["severe_neutrophils_per_ul"], "Neutrophils"),
        ("platelets", conf["severe_platelets_per_ul"], "Platelets"),
    ):
        q = quantity(latest[key].resource)
        per_ul = cells_per_ul(*q) if q else None
        if per_ul is not None and per_ul < threshold:
            problems.append(f"{label} {per_ul:,.0f}/µL (below {threshold:,}/µL)")
    if problems:
        return [
            Finding(
                "safety.cbc",
                "1",
                "cbc",
                "warning",
                "Severe cytopenia: " + "; ".join(problems),
                facts={"state": "cytopenia", "problems": problems},
                evidence=evidence,
                citations=citations,
                override_reasons=("benefit-outweighs-risk", "specialist-reviewed"),
            )
        ]
    return [
        Finding(
            "safety.cbc",
            "1",
            "cbc",
            "pass",
            "Blood counts within the last 120 days",
            facts={"state": "ok"},
            evidence=evidence,
            citations=citations,
        )
    ]


# --- vaccination ------------------------------------------------------------------------------------


@order_rule("safety.vaccination", "Live vaccines", needs=["immunizations"], scope="patient")
def live_vaccines(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("vaccination")
    window = timedelta(days=conf["live_window_days"])
    recent = []
    for imm in record.immunizations:
        if imm.get("status") not in (None, "completed") or is_entered_in_error(imm):
            continue
        when = effective_datetime(imm)
        live = next(
            (
                d or c
                for s, c, d in codings(imm.get("vaccineCode"))
                if c in conf["live_cvx"] and (not s or s.endswith("cvx"))
            ),
            None,
        )
        if live and when and timedelta(0) <= record.now - when <= window:
            recent.append(
                Evidence(
                    "Immunization",
                    imm.get("id"),
                    f"Live vaccine: {live}",
                    None,
                    when.date().isoformat(),
                    origin=record.origin_of("Immunization"),
                )
            )
    if not recent:
        return []
    return [
        Finding(
            "safety.vaccination",
            "1",
            "vaccination",
            "warning",
            f"Live vaccine given in the last {conf['live_window_days'] // 7} weeks: live vaccines are not "
            "recommended around rituximab",
            facts={"state": "live-recent", "window_days": conf["live_window_days"]},
            evidence=tuple(recent),
            citations=("label-live-vaccines", "idsa-2013-vaccination"),
            override_reasons=("benefit-outweighs-risk", "specialist-reviewed"),
        )
    ]


# --- prior reactions --------------------------------------------------------------------------------


def _names_rituximab(allergy: dict[str, Any]) -> bool:
    concept = allergy.get("code")
    if match_concept(concept):
        return True
    if any(c in load("products")["substance_snomed"] for _, c, _ in codings(concept)):
        return True
    text = concept_text(concept)
    return bool(match_text(text)) or any(w in text for w in cfg("hypersensitivity")["murine_words"])


@order_rule("safety.hypersensitivity", "Prior reactions to rituximab", needs=["allergies"], scope="patient")
def prior_reaction(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    conf = cfg("hypersensitivity")
    findings = []
    for allergy in record.allergies:
        if is_entered_in_error(allergy) or not _names_rituximab(allergy):
            continue
        status = [c for _, c, _ in codings(allergy.get("clinicalStatus"))]
        if status and not any(s == "active" for s in status):
            continue
        manifestations = [
            m for r in allergy.get("reaction") or [] if isinstance(r, dict) for m in r.get("manifestation") or []
        ]
        anaphylaxis = any(c in conf["anaphylaxis_snomed"] for _, c, _ in codings(manifestations)) or any(
            w in concept_text(manifestations) for w in conf["anaphylaxis_words"]
        )
        high = allergy.get("criticality") == "high"
        when = effective_datetime(allergy)
        evidence = (
            Evidence(
                "AllergyIntolerance",
                allergy.get("id"),
                concept_text(allergy.get("code")) or "rituximab",
                _reaction_text(concept_text(manifestations), anaphylaxis, high),
                when.date().isoformat() if when else None,
                origin=record.origin_of("AllergyIntolerance"),
            ),
        )
        if anaphylaxis or high:
            findings.append(
                Finding(
                    "safety.hypersensitivity",
                    "1",
                    "hypersensitivity",
                    "critical",
                    "Documented "
                    + ("anaphylaxis" if anaphylaxis else "high-criticality reaction")
                    + " to rituximab: do not re-challenge without specialist review",
                    facts={"state": "severe", "anaphylaxis": anaphylaxis},
                    evidence=evidence,
                    citations=("label-boxed-warning",),
                    override_reasons=("specialist-reviewed", "benefit-outweighs-risk"),
                )
            )
        else:
            findings.append(
                Finding(
                    "safety.hypersensitivity",
                    "1",
                    "hypersensitivity",
                    "warning",
                    "Prior reaction to rituximab documented: premedicate and monitor the infusion",
                    facts={"state": "prior-reaction"},
                    evidence=evidence,
                    citations=("label-boxed-warning",),
                    override_reasons=("documented-elsewhere", "benefit-outweighs-risk"),
                )
            )
    # One card: the most severe documented reaction.
    findings.sort(key=lambda f: f.severity != "critical")
    return findings[:1]


def _reaction_text(manifestation: str, anaphylaxis: bool, high: bool) -> str | None:
    parts = ["anaphylaxis" if anaphylaxis else manifestation] + (["criticality high"] if high else [])
    return ", ".join(p for p in parts if p) or None
