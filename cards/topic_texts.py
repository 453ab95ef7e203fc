"""Topic prose built as plain strings, for the findings that make a card on most order-sign calls.

The immunoglobulins and pregnancy texts were Jinja templates like the other
topics', rendered on nearly every call (a chart without a recent IgG, a first
course for a patient of reproductive potential) at about as much cost as the
rest of their card.  The wording is the same, byte for byte
(tests/unit/test_cards_topic_texts.py compares each with the template it
replaced).  As in :mod:`cards.necessity`, every value from the findings goes
through :func:`cards.render.md_text` once; everything else is our own prose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cards.render import md_text

Facts = dict[str, Any]

_IGG_SOURCES = (
    "Not a label requirement: the rituximab consensus statement (Buch 2011) recommends a baseline IgG and an IgG "
    "before each course, because low IgG before and during treatment is associated with serious infections. "
    "Hypogammaglobulinemia is IgG below 600 mg/dL (mild 400–599, moderate 200–399, severe below 200; "
    "Barmettler 2018)."
)
_PREGNANT = (
    "The rituximab label warns of **embryo-fetal toxicity**: it can cause fetal harm through B-cell "
    "lymphocytopenia in infants exposed in utero (Warnings and Precautions; 8.1 Pregnancy). Weigh the benefit "
    "against the risk to the fetus with the patient and, where relevant, obstetrics before the order goes ahead."
)


def immunoglobulins_markdown(facts: Facts) -> str:
    """Why IgG is checked, what this chart shows (``state``), and the trend when there are several results."""
    paragraphs = [_IGG_SOURCES]
    state = facts["state"]
    if state == "missing":
        paragraphs.append("No IgG from the last 6 months was found. The suggestions order IgG, IgA and IgM.")
    elif state == "low":
        paragraphs.append(
            f"Latest IgG **{md_text(facts['value_mg_dl'])} mg/dL** ({md_text(facts['date'])}): "
            f"{md_text(facts['band'])} hypogammaglobulinemia. Consider the infection history, delaying or spacing "
            "the course, and immunology input before continuing.")
    elif state == "after-ivig":
        paragraphs.append(
            f"The IgG on file was drawn {md_text(facts['days_after_ivig'])} days after IVIG "
            f"({md_text(facts['ivig_date'])}). IgG has a half-life of about 21 days, so a level drawn within 28 days "
            "of IVIG mostly reflects the infusion, not the patient's own production. Use a pre-IVIG level as the "
            "baseline.")
    trend = facts["trend"]
    if len(trend) > 1:
        # A number formatted with "%.0f" is digits and a sign ("inf", "nan" at worst): nothing to escape.
        paragraphs.append("Trend: " + "; ".join(
            f"{md_text(t['date'])}: " + ("unit not interpretable" if t["mg_dl"] is None else f"{t['mg_dl']:.0f} mg/dL")
            for t in trend) + ".")
    return "\n\n".join(paragraphs)


def pregnancy_markdown(facts: Facts) -> str:
    """A pregnancy on record, or a first course with no recent pregnancy test (``test_days``)."""
    if facts["state"] == "pregnant":
        return _PREGNANT
    return (f"This is a first course for a patient of reproductive potential, with no pregnancy test in the last "
            f"{md_text(facts['test_days'])} days. The label does not require a test, but it warns of embryo-fetal "
            "toxicity and advises **effective contraception during treatment and for 12 months after the last "
            "dose** (8.3). Confirm pregnancy status and discuss contraception; the suggestion orders a pregnancy "
            "test if wanted.")


#: rule id -> its card's topic prose (in place of ``templates/<rule_id>.md.j2``)
TOPIC_TEXTS: dict[str, Callable[[Facts], str]] = {
    "safety.immunoglobulins": immunoglobulins_markdown,
    "safety.pregnancy": pregnancy_markdown,
}
