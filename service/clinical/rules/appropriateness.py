"""Appropriateness of the rituximab order: indication, prerequisites, continuation, product.

Sources (clinical-rules.md): labeled indications and their criteria §1.1
(FDA label); inflammatory myopathy rule set A1-A3 §1.2 (ACR/CHEST 2023
SARD-ILD guideline doi 10.1002/acr.25348; BSR 2022; FORCE refractory
definition; Medicare LCD L38920); Rituxan Hycela oncology-only §1.1 (UHC,
Cigna); biosimilar preference A4 (UHC 2020).  Cards must not claim more:
rituximab is one of several first-line options for RP-ILD, never "preferred"
(§6.1 C3), and RIM missed its primary endpoint (§0).
"""

from __future__ import annotations

from service.clinical import labs
from service.clinical.engine import order_rule
from service.clinical.fhir_values import as_list, concept_text
from service.clinical.findings import Evidence, Finding
from service.clinical.indications import IndicationContext, group_spec, indication_context
from service.clinical.medications import MedicationUse, uses_of_class
from service.clinical.policy import Policy
from service.clinical.products import product
from service.clinical.record import OrderUnderReview, PatientRecord
from service.clinical.regimens import cycle_run, group_regimens, is_cycle_pathway, regimen_citations
from service.clinical.rituximab_history import courses_before, doses_before
from service.knowledge import load

MED_SECTIONS = ("medicationStatements", "medicationRequests", "medicationAdministrations")


def _med_evidence(record: PatientRecord, use: MedicationUse) -> Evidence:
    state = "current" if use.active else f"{use.status}"
    when = use.start.date().isoformat() if use.start else None
    if use.end and not use.active:
        state += f" (ended {use.end.date().isoformat()})"
    return Evidence(
        use.resource_type, use.resource_id, use.name, state, when, origin=record.origin_of(use.resource_type)
    )


def _all_evidence(ctx: IndicationContext, key: str) -> list[Evidence]:
    return ctx.groups.get(key, [])


@order_rule("indication.documented", "Documented indication", needs=["conditions", "observations"])
def documented_indication(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    ctx = indication_context(record, order)
    if ctx.primary is None:
        return [
            Finding(
                rule_id="indication.documented",
                rule_version="1",
                topic="indication",
                severity="warning",
                summary="No indication for rituximab is documented in the chart",
                facts={"looked_for": list(ctx.looked_for), "documented": False},
                missing=(
                    "An active Condition (problem list or encounter diagnosis) coded for: " + "; ".join(ctx.looked_for),
                    "A reason on the order (MedicationRequest.reasonCode or reasonReference)",
                ),
                citations=("fda-label-rituximab", "acr-chest-2023"),
                override_reasons=("documented-elsewhere", "payer-criteria-documented", "not-applicable"),
            )
        ]
    spec = group_spec(ctx.primary)
    evidence = list(_all_evidence(ctx, ctx.primary))
    evidence += ctx.antisynthetase + ctx.mda5 + ctx.ild
    return [
        Finding(
            rule_id="indication.documented",
            rule_version="1",
            topic="indication",
            severity="pass",
            summary=f"Documented indication: {spec['display']}",
            facts={
                "documented": True,
                "group": ctx.primary,
                "display": spec["display"],
                "labeled": spec["labeled"],
                "oncology": spec["oncology"],
                "other_groups": [group_spec(k)["display"] for k in ctx.groups if k != ctx.primary],
                "antisynthetase": bool(ctx.antisynthetase),
                "mda5": bool(ctx.mda5),
                "ild": bool(ctx.ild),
            },
            evidence=tuple(dict.fromkeys(evidence)),
            citations=("fda-label-rituximab",) if spec["labeled"] else ("acr-chest-2023", "bsr-2022-iim", "rim-2013"),
        )
    ]


def _documented_failure(use: MedicationUse, words: list[str]) -> bool:
    """The record says the drug failed or was not tolerated (status reason, dosage text or note)."""
    res = use.resource
    texts = [concept_text(c) for c in as_list(res.get("statusReason")) + as_list(res.get("reasonCode"))]
    texts += [d.get("text", "") for d in as_list(res.get("dosage")) if isinstance(d, dict)]
    texts += [n.get("text", "") for n in as_list(res.get("note")) if isinstance(n, dict)]
    text = " ".join(t for t in texts if isinstance(t, str)).lower()
    return any(w in text for w in words)


def _refractory_split(
    record: PatientRecord, conventional: list[MedicationUse]
) -> tuple[list[str], list[str], list[str]]:
    """(agents that count toward refractory disease, agents started alongside rituximab that do not,
    agents that count and are continued alongside rituximab)."""
    conf = load("medication_classes")["refractory"]
    weeks = conf["refractory_min_weeks"]
    failed: list[str] = []
    concurrent: list[str] = []
    continued: list[str] = []
    for u in conventional:
        long_enough = u.start is not None and (record.now - u.start).days >= weeks * 7
        if _documented_failure(u, conf["failure_words"]) or (long_enough and not u.active):
            failed.append(u.name)
        elif u.active and long_enough:
            failed.append(f"{u.name} (on it at least {weeks} weeks)")
            continued.append(u.name)  # an inadequate response that is still taken: counts, and is continued
        elif u.active or (u.start is not None and not long_enough):
            concurrent.append(u.name)  # started alongside rituximab (e.g. IVIG weeks ago): combination, not failure
    return list(dict.fromkeys(failed)), list(dict.fromkeys(concurrent)), list(dict.fromkeys(continued))


def _iim_prerequisites(record: PatientRecord, ctx: IndicationContext) -> Finding:
    gcs = uses_of_class(record, "glucocorticoids")
    conventional = uses_of_class(record, "conventional_immunosuppressants")
    evidence = [_med_evidence(record, u) for u in (gcs[:2] + conventional[:4])]
    bypass: list[str] = []
    if ctx.mda5 and ctx.ild:
        bypass.append("anti-MDA5 antibody with interstitial lung disease")
    if ctx.rapidly_progressive_ild:
        basis = " and ".join(b for b in ctx.rp_basis if b != "anti-MDA5 with ILD") or "documented"
        bypass.append(f"rapidly progressive interstitial lung disease ({basis})")
    if ctx.ild and not bypass:
        bypass.append("interstitial lung disease (rituximab is one of the guideline's first-line options)")
    if ctx.dysphagia:
        bypass.append("dysphagia")
    if ctx.respiratory_involvement and not ctx.ild:
        bypass.append("myositis with respiratory involvement")
    evidence += ctx.ild + ctx.lung_decline + ctx.mda5 + ctx.dysphagia + ctx.respiratory_involvement
    failed, concurrent, continued = _refractory_split(record, conventional)
    facts = {
        "group": "iim",
        "glucocorticoid": [u.name for u in gcs[:3]],
        "conventional": [u.name for u in conventional[:4]],
        "failed": failed,
        "concurrent": concurrent,
        "continued": continued,
        "prior_failed": [f for f in failed if f.split(" (")[0] not in concurrent + continued],
        "ild_basis": [b for b in bypass if "lung" in b],
        "refractory_min_weeks": load("medication_classes")["refractory"]["refractory_min_weeks"],
        "first_line_justified_by": bypass,
        "rp_ild": ctx.rapidly_progressive_ild,
        "mda5_ild": bool(ctx.mda5 and ctx.ild),
    }
    met = bool(gcs) and bool(failed)
    citations: tuple[str, ...] = ("acr-chest-2023", "bsr-2022-iim", "rim-2013", "force-refractory", "lcd-l38920")
    if ctx.rapidly_progressive_ild or (ctx.mda5 and ctx.ild):
        citations = ("acr-chest-2023-rpild", *(("medra5-2020",) if ctx.mda5 else ()), *citations)
    if met or bypass:
        return Finding(
            rule_id="indication.prerequisites",
            rule_version="2",
            topic="indication",
            severity="pass",
            summary="Prerequisites for rituximab in inflammatory myopathy are documented",
            # A first-line justification is stated before refractory disease: agents started
            # alongside rituximab are combination therapy, not failed therapy.
            facts={**facts, "met_by": "first-line criteria" if bypass else "prior therapy"},
            evidence=tuple(dict.fromkeys(evidence)),
            citations=tuple(dict.fromkeys(citations)),
        )
    missing = []
    if not gcs:
        missing.append("A glucocorticoid course (current or past), e.g. prednisone")
    if not failed:
        missing.append(
            "At least one conventional immunosuppressant (methotrexate, azathioprine, mycophenolate, "
            "tacrolimus, cyclosporine, IVIG or cyclophosphamide) documented as failed or not tolerated, or "
            f"given for at least {facts['refractory_min_weeks']} weeks before this course"
            + (f" (started recently: {', '.join(concurrent)})" if concurrent else "")
        )
    missing.append(
        "Or a first-line justification: rapidly progressive ILD, anti-MDA5 antibody with ILD, or severe "
        "organ involvement (dysphagia, respiratory involvement) documented as a Condition"
    )
    return Finding(
        rule_id="indication.prerequisites",
        rule_version="2",
        topic="indication",
        severity="warning",
        summary="Myositis: no failed glucocorticoid plus conventional immunosuppressant documented",
        facts={**facts, "met_by": None},
        evidence=tuple(dict.fromkeys(evidence)),
        missing=tuple(missing),
        citations=citations,
        override_reasons=("documented-elsewhere", "urgent-treatment", "payer-criteria-documented"),
    )


def _ra_prerequisites(record: PatientRecord) -> Finding:
    tnf = uses_of_class(record, "tnf_inhibitors")
    mtx = uses_of_class(record, "methotrexate")
    evidence = tuple(_med_evidence(record, u) for u in tnf[:2] + mtx[:2])
    missing = []
    if not tnf:
        missing.append(
            "Inadequate response to at least one TNF inhibitor (e.g. adalimumab, etanercept, "
            "infliximab), documented as a MedicationStatement with its end and reason"
        )
    if not any(u.active for u in mtx):
        missing.append(
            "Methotrexate given with rituximab (label: in combination with methotrexate), or the reason it cannot be"
        )
    facts = {
        "group": "ra",
        "tnf_inhibitor": [u.name for u in tnf[:2]],
        "methotrexate": [u.name for u in mtx[:1]],
        "methotrexate_current": any(u.active for u in mtx),
    }
    if not missing:
        return Finding(
            "indication.prerequisites",
            "1",
            "indication",
            "pass",
            "Labeled RA criteria documented (TNF inhibitor tried, with methotrexate)",
            facts=facts,
            evidence=evidence,
            citations=("fda-label-rituximab", "label-ra-dosing"),
        )
    return Finding(
        "indication.prerequisites",
        "1",
        "indication",
        "warning",
        "RA: label criteria (prior TNF inhibitor, methotrexate) not documented",
        facts=facts,
        evidence=evidence,
        missing=tuple(missing),
        citations=("fda-label-rituximab", "label-ra-dosing"),
        override_reasons=("documented-elsewhere", "payer-criteria-documented", "not-applicable"),
    )


def _glucocorticoid_prerequisite(record: PatientRecord, key: str) -> Finding:
    gcs = uses_of_class(record, "glucocorticoids")
    display = group_spec(key)["short"]
    evidence = tuple(_med_evidence(record, u) for u in gcs[:2])
    facts = {"group": key, "glucocorticoid": [u.name for u in gcs[:2]]}
    if gcs:
        return Finding(
            "indication.prerequisites",
            "1",
            "indication",
            "pass",
            f"{display}: glucocorticoid therapy documented",
            facts=facts,
            evidence=evidence,
            citations=("fda-label-rituximab",),
        )
    return Finding(
        "indication.prerequisites",
        "1",
        "indication",
        "warning",
        f"{display}: the label pairs rituximab with glucocorticoids; none documented",
        facts=facts,
        missing=("A current glucocorticoid (MedicationStatement or MedicationRequest)",),
        citations=("fda-label-rituximab",),
        override_reasons=("documented-elsewhere", "not-applicable", "benefit-outweighs-risk"),
    )


@order_rule(
    "indication.prerequisites",
    "Prerequisites (prior therapy)",
    needs=["conditions", "observations", *MED_SECTIONS],
)
def prerequisites(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    ctx = indication_context(record, order)
    if ctx.primary == "iim":
        return [_iim_prerequisites(record, ctx)]
    if ctx.primary == "ra":
        return [_ra_prerequisites(record)]
    if ctx.primary in ("gpa_mpa", "pv"):
        return [_glucocorticoid_prerequisite(record, ctx.primary)]
    return []


def _reaction_recorded(record: PatientRecord) -> bool:
    """Whether any AllergyIntolerance names rituximab (a prior reaction)."""
    return any("rituximab" in concept_text(a.get("code")).lower() for a in record.allergies)


@order_rule("indication.continuation", "Prior rituximab courses",
            needs=[*MED_SECTIONS, "observations", "conditions", "allergies"])
def continuation(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    found = courses_before(record, order)
    if not found:
        return []
    group = indication_context(record, order).primary
    last = found[-1]
    evidence = [
        Evidence(
            d.resource_type,
            d.resource_id,
            f"Rituximab ({product(d.product_key)['display']})",
            f"{d.mg:g} mg" if d.mg is not None else None,
            d.when.date().isoformat(),
            origin=record.origin_of(d.resource_type),
        )
        for d in last.doses
    ]
    response: list[str] = []
    gcs = uses_of_class(record, "glucocorticoids")
    if gcs and not any(u.active for u in gcs):
        ended = max((u.end for u in gcs if u.end), default=None)
        response.append("glucocorticoid stopped" + (f" ({ended.date().isoformat()})" if ended else ""))
        evidence += [_med_evidence(record, gcs[0])]
    ck = labs.results(record, ("2157-6",))
    if ck:
        evidence.append(labs.evidence(record, ck[0], "Creatine kinase"))
        response.append(
            f"latest CK {labs.value_text(ck[0].resource)}"
            + (f" on {ck[0].when.date().isoformat()}" if ck[0].when else "")
        )
    weeks = (record.now - last.start).days / 7
    facts: dict[str, object] = {
        "courses": len(found),
        "first_course": found[0].start.date().isoformat(),
        "last_course": last.start.date().isoformat(),
        "weeks_since_last": round(weeks, 1),
        "last_course_doses": [f"{d.mg:g} mg" if d.mg is not None else "dose not recorded" for d in last.doses],
        "response": response,
        "reaction_recorded": _reaction_recorded(record),
        "pathway": "cycle" if is_cycle_pathway(group) else "course",
    }
    if is_cycle_pathway(group):
        run = cycle_run(group, doses_before(record, order), record.now)  # type: ignore[arg-type]
        facts.update(cycle=run.next_cycle, regimen_doses=len(run.doses) if run.ongoing else 0,
                     regimen_start=run.doses[0].when.date().isoformat() if run.ongoing else None)
        summary = f"Cycle {run.next_cycle} of a rituximab regimen" if run.ongoing else "New rituximab regimen"
        return [Finding("indication.continuation", "2", "indication", "pass", summary, facts=facts,
                        evidence=tuple(evidence), citations=regimen_citations(group))]  # type: ignore[arg-type]
    citations: tuple[str, ...] = ()
    if group is not None:
        planned = max(r.get("administrations", 1) for r in group_regimens(group)["regimens"])
        single = [c for c in found if len(c.doses) == 1]
        if planned > 1 and len(single) >= 2 and len(last.doses) == 1:
            # Single-dose courses are not the labelled or studied regimen: say so, and what the chart shows.
            gaps = [(b.start - a.start).days / 7 for a, b in zip(found, found[1:], strict=False)]
            facts["extended_interval"] = {"single_dose_courses": len(single),
                                          "median_weeks": round(sorted(gaps)[len(gaps) // 2]) if gaps else None}
            citations = ("extended-interval-none",)
    return [Finding("indication.continuation", "2", "indication", "pass",
                    f"Further rituximab course ({len(found)} prior)", facts=facts, evidence=tuple(evidence),
                    citations=citations)]


@order_rule("indication.product", "Product and formulation", needs=["conditions", "observations"])
def product_choice(record: PatientRecord, order: OrderUnderReview, policy: Policy) -> list[Finding]:
    prod = product(order.product_key)
    ctx = indication_context(record, order)
    order_ev = Evidence(
        "MedicationRequest",
        order.request.get("id"),
        "Ordered product",
        prod["display"],
        code=order.matched_code,
        origin="order",
    )
    if prod.get("oncology_only") and not (ctx.primary and group_spec(ctx.primary)["oncology"]):
        indication = group_spec(ctx.primary)["display"] if ctx.primary else "a non-oncology indication"
        return [
            Finding(
                rule_id="indication.product",
                rule_version="1",
                topic="indication",
                severity="warning",
                summary="Rituxan Hycela (subcutaneous) is for oncology indications; use IV rituximab",
                facts={"product": prod["display"], "indication": indication, "route": prod["route"]},
                evidence=(order_ev,),
                missing=(f"An intravenous rituximab product for {indication}",),
                citations=("payer-hycela", "fda-label-rituximab"),
                override_reasons=("payer-criteria-documented", "not-applicable"),
            )
        ]
    if policy.prefer_biosimilar and not prod["biosimilar"] and not prod.get("oncology_only"):
        return [
            Finding(
                rule_id="indication.product",
                rule_version="1",
                topic="indication",
                severity="info",
                summary="Local policy prefers a rituximab biosimilar (Ruxience, Truxima or Riabni)",
                facts={"product": prod["display"], "biosimilar": False},
                evidence=(order_ev,),
                citations=("payer-biosimilar",),
                override_reasons=("payer-criteria-documented", "not-applicable"),
            )
        ]
    return [
        Finding(
            rule_id="indication.product",
            rule_version="1",
            topic="indication",
            severity="pass",
            summary=f"Product: {prod['display']}",
            facts={
                "product": prod["display"],
                "biosimilar": prod["biosimilar"],
                "route": prod["route"],
                "matched_by": order.matched_by,
            },
            evidence=(order_ev,),
        )
    ]
