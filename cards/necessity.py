"""The medical-necessity assessment text, built as plain strings: one function per numbered section.

It was a Jinja template, rendered on every order-sign call with a summary
card: a third of the whole call.  The wording is the same, byte for byte
(tests/unit/test_cards_necessity.py compares it with the template it
replaced).  Every value from the EHR or the findings goes through
:func:`cards.render.md_text` once; everything else is our own prose.
"""

from __future__ import annotations

from typing import Any

from cards.render import md_join, md_text, md_texts, tidy

Facts = dict[str, Any]

_LABELED = "This is an FDA-labeled indication."
_OFF_LABEL = "This is off-label use that guidelines support for inflammatory myopathy, not an FDA-labeled indication."
_STRENGTH_OF_EVIDENCE = (
    "*Strength of evidence:* the evidence for rituximab in myositis is from the RIM trial, which missed its "
    "primary endpoint, and from observational series; guideline recommendations are conditional."
)


def necessity_markdown(facts: Facts) -> str:
    """The assessment: decision, then numbered sections for what the chart documents.

    ``facts``: ``parts`` (rule id -> that finding's facts), ``product``,
    ``dosing_warning`` and ``monitoring`` (one line per safety topic)."""
    parts = facts["parts"]
    ind = parts["indication.documented"]
    pre = parts.get("indication.prerequisites")
    cont = parts.get("indication.continuation")
    dose = parts.get("dosing.regimen")
    sections = [
        _indication(ind),
        _why_combination(ind, pre),
        _prior_therapy(pre),
        _treatment_history(cont),
        _regimen(dose, facts["dosing_warning"]),
        _safety_work_up(facts["monitoring"]),
    ]
    paragraphs = [_assessment(facts["product"], ind, pre, cont)]
    paragraphs += [f"**{number}. {text}" for number, text in enumerate(filter(None, sections), 1)]
    if not ind["labeled"]:
        paragraphs.append(_STRENGTH_OF_EVIDENCE)
    return tidy("\n\n".join(paragraphs))


def _number(value: float) -> str:
    """A number as the summary writes it: shortest form, no trailing zeros (format "g")."""
    return md_text(f"{value:g}")


def _ild(pre: Facts | None) -> bool:
    """Rapidly progressive or anti-MDA5-positive ILD documented (the combination-therapy case)."""
    return bool(pre and (pre.get("rp_ild") or pre.get("mda5_ild")))


def _assessment(product: Any, ind: Facts, pre: Facts | None, cont: Facts | None) -> str:
    text = "**Assessment.** Rituximab"
    if product:
        text += f" ({md_text(product)})"
    text += " for " + md_text(ind["display"])
    if pre and pre.get("rp_ild"):
        text += " with rapidly progressive interstitial lung disease"
    elif pre and pre.get("mda5_ild"):
        text += " with anti-MDA5-positive interstitial lung disease"
    text += ": the documented criteria are met"
    if cont and cont["pathway"] == "cycle" and cont["regimen_doses"]:
        text += f", as cycle {md_text(cont['cycle'])} of a regimen started {md_text(cont['regimen_start'])}"
    elif cont and cont["pathway"] == "course":
        plural = "s" if cont["courses"] != 1 else ""
        text += f", as a further course after {md_text(cont['courses'])} documented course{plural}"
    return text + ". " + (_LABELED if ind["labeled"] else _OFF_LABEL)


def _indication(ind: Facts) -> str:
    text = f"Indication.** {md_text(ind['display'])}, documented in the chart (see data used below)"
    if ind["antisynthetase"]:
        text += "; anti-synthetase antibody positive (antisynthetase syndrome)"
    if ind["mda5"]:
        text += "; anti-MDA5 antibody positive"
    if ind["ild"]:
        text += "; interstitial lung disease documented"
    text += "."
    if ind["other_groups"]:
        text += f" Also documented: {md_join(ind['other_groups'], ', ')}."
    return text


def _why_combination(ind: Facts, pre: Facts | None) -> str:
    if not (pre and pre["group"] == "iim" and _ild(pre)):
        return ""
    kind = "Rapidly progressive ILD" if pre.get("rp_ild") else "Anti-MDA5-positive ILD"
    text = (f"Why combination therapy now.** {kind} is documented ({md_join(pre['ild_basis'], '; ')}). "
            "The 2023 ACR/CHEST guideline conditionally recommends first-line combination therapy for rapidly "
            "progressive ILD in systemic autoimmune rheumatic disease; "
            "rituximab is one of several options and the guideline states no preference among them.")
    if ind["mda5"]:
        text += (" For anti-MDA5 disease, the MEDRA5 recommendations (an expert consensus, all grade D) advise "
                 "combination therapy first (glucocorticoid with a calcineurin inhibitor, or triple therapy adding "
                 "cyclophosphamide), with rituximab as an alternative or add-on.")
    return text


def _prior_therapy(pre: Facts | None) -> str:
    if not pre:
        return ""
    if pre["group"] == "iim":
        therapy = _myositis_therapy(pre)
    elif pre["group"] == "ra":
        current = " (current)" if pre["methotrexate_current"] else ""
        therapy = (f"TNF inhibitor tried: {md_join(pre['tnf_inhibitor'], ', ')}. "
                   f"Methotrexate: {md_join(pre['methotrexate'], ', ')}{current}.")
    else:
        therapy = f"Glucocorticoid: {md_join(pre['glucocorticoid'], ', ')}."
    # An empty line of therapy leaves a blank line here, which the final tidy folds away.
    return "Prior and concurrent therapy.**\n" + therapy


def _myositis_therapy(pre: Facts) -> str:
    """Inflammatory myopathy: what was tried, what runs alongside, and why rituximab now."""
    text = ""
    if pre["glucocorticoid"]:
        text += f"Glucocorticoid: {md_join(pre['glucocorticoid'], ', ')}. "
    if pre["concurrent"]:
        text += ("Concurrent therapy (started alongside rituximab; combination therapy, not counted as failed): "
                 f"{md_join(pre['concurrent'], ', ')}. ")
    if pre.get("continued"):
        text += f"Continued alongside rituximab: {md_join(pre['continued'], ', ')}. "
    if pre["met_by"] == "prior therapy":
        text += f"Refractory-disease criterion: a glucocorticoid and {md_join(pre['failed'], ', ')}."
    elif pre["prior_failed"]:
        text += f"Tried before: {md_join(pre['prior_failed'], ', ')}."
    if pre["first_line_justified_by"] and not _ild(pre):
        text += (f" Rituximab is a first-line option here because of: {md_join(pre['first_line_justified_by'], '; ')}."
                 " Rituximab is one of several first-line options in the ACR/CHEST guideline; the guideline does "
                 "not state a preference for it.")
    return text


def _treatment_history(cont: Facts | None) -> str:
    if not cont:
        return ""
    if cont["pathway"] == "cycle":
        if cont["regimen_doses"]:
            return (f"Treatment history.** {md_text(cont['regimen_doses'])} dose(s) of the current regimen since "
                    f"{md_text(cont['regimen_start'])}; this order is cycle {md_text(cont['cycle'])}.")
        return (f"Treatment history.** Earlier rituximab from {md_text(cont['first_course'])} to "
                f"{md_text(cont['last_course'])}; this order starts a new regimen.")
    text = (f"Treatment history and response.** First documented course {md_text(cont['first_course'])}; "
            f"last course {md_text(cont['last_course'])} ({md_join(cont['last_course_doses'], ', ')}), "
            f"{_number(cont['weeks_since_last'])} weeks ago.")
    if cont["response"]:
        text += f" Response documented in the chart: {md_join(cont['response'], '; ')}."
    else:
        text += " No response measure (CK, glucocorticoid taper) is documented in the chart."
    if cont["reaction_recorded"]:
        text += " A reaction to rituximab is recorded (see the hypersensitivity card)."
    else:
        text += " No reaction to rituximab is recorded."
    extended = cont.get("extended_interval")
    if extended:
        text += (f"\n\n*Extended interval.* {md_text(extended['single_dose_courses'])} courses were single 1000 mg "
                 f"doses about every {md_text(extended['median_weeks'])} weeks. That is not the labelled or studied "
                 "regimen (two 1000 mg doses two weeks apart); no source found supports a fixed single-dose, "
                 "extended-interval schedule. The chart supports continuing on the grounds above (documented "
                 "response, no recorded reaction); state the clinical reasoning for this schedule in the request.")
    return text


def _regimen(dose: Facts | None, dosing_warning: bool) -> str:
    if not dose:
        return ""
    if "dose" not in dose:
        return ("Regimen.** The ordered dose is not stated in mg or mg/m2, so it was not compared with the "
                f"reference regimen ({md_text(dose['regimen'])}): see the dosing card.")
    text = f"Regimen.** Ordered {_number(dose['dose'])} {md_text(dose['unit'])} x {md_text(dose['count'])}"
    if dose["interval_days"]:
        text += f", every {_number(dose['interval_days'])} days"
    if dose["unit"] == "mg/m2" and dose["dose_mg"]:
        text += (f" = {_number(dose['dose_mg'])} mg per dose at BSA {md_text(dose['bsa_m2'])} m² "
                 f"(Mosteller; {md_join(dose['body_size'], ', ')})")
    text += f". Reference regimen: {md_text(dose['regimen'])}."
    if dosing_warning:
        return text + " The dose or interval is outside this regimen: see the dosing card."
    text += " The order is within it"
    if dose["weeks_since_last_course"] is not None:
        text += f"; {_number(dose['weeks_since_last_course'])} weeks since the last course"
    return text + "."


def _safety_work_up(monitoring: list[dict[str, Any]]) -> str:
    if not monitoring:
        return ""
    # Every line's values escaped together: one scan for them all when, as usual, none needs it.
    values = md_texts([v for m in monitoring for v in (m["topic"], m["status"], m["summary"], m["date"] or "")])
    lines = []
    for start in range(0, len(values), 4):
        topic, status, summary, date = values[start:start + 4]
        latest = f", latest {date}" if date else ""
        lines.append(f"- {topic}: {status} ({summary}{latest})")
    return "Safety work-up.**\n\n" + "\n".join(lines)
