"""The medical-necessity text built in code (cards/necessity.py) equals the Jinja template it replaced.

``tests/golden/medical-necessity.md.j2`` is that template as it last rendered
the summary, kept as the reference: hypothesis walks its branches (each
indication group, each treatment pathway, dose stated or not, EHR text full
of markdown and line breaks, None where a value may be missing) and the two
must agree byte for byte.  The golden cards check the fixtures; this checks
the branches no fixture reaches.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.necessity import necessity_markdown
from cards.render import environment, tidy

REFERENCE = Path(__file__).resolve().parents[1] / "golden"

#: EHR text: markdown and HTML metacharacters, every line break md_escape knows, plain words
text = st.text(alphabet=st.sampled_from(list("\\`*_{}[]<>|#!~\r\n\u2028 aZ9-.,;()'é")), max_size=8)
value = st.one_of(text, st.none(), st.integers(-3, 30))
names = st.lists(text, max_size=3)
number = st.one_of(st.integers(0, 2000), st.floats(0, 2000, allow_nan=False), st.sampled_from([0.5, 1e-7, 1e21]))
maybe_number = st.one_of(st.none(), number)

indication = st.fixed_dictionaries({
    "display": text, "labeled": st.booleans(), "antisynthetase": st.booleans(), "mda5": st.booleans(),
    "ild": st.booleans(), "other_groups": names,
})
myositis = st.fixed_dictionaries(
    {"group": st.just("iim"), "glucocorticoid": names, "concurrent": names, "failed": names, "prior_failed": names,
     "ild_basis": names, "first_line_justified_by": names, "rp_ild": st.booleans(), "mda5_ild": st.booleans(),
     "met_by": st.sampled_from(["prior therapy", "first-line criteria", None])},
    optional={"continued": names},
)
rheumatoid = st.fixed_dictionaries({"group": st.just("ra"), "tnf_inhibitor": names, "methotrexate": names,
                                    "methotrexate_current": st.booleans()})
other_group = st.fixed_dictionaries({"group": st.sampled_from(["gpa-mpa", "pv"]), "glucocorticoid": names})
cycle = st.fixed_dictionaries({"pathway": st.just("cycle"), "regimen_doses": st.integers(0, 3), "cycle": value,
                               "regimen_start": value, "first_course": value, "last_course": value})
course = st.fixed_dictionaries(
    {"pathway": st.just("course"), "courses": st.integers(0, 4), "first_course": value, "last_course": value,
     "last_course_doses": names, "weeks_since_last": number, "response": names, "reaction_recorded": st.booleans()},
    optional={"extended_interval": st.fixed_dictionaries({"single_dose_courses": st.integers(0, 9),
                                                          "median_weeks": st.one_of(st.none(), st.integers(0, 60))})},
)
dose_unread = st.fixed_dictionaries({"indication": text, "regimen": text})
dose_read = st.fixed_dictionaries({
    "dose": number, "unit": st.sampled_from(["mg", "mg/m2"]), "count": st.integers(1, 4),
    "interval_days": maybe_number, "dose_mg": maybe_number, "bsa_m2": maybe_number, "body_size": names,
    "regimen": text, "weeks_since_last_course": maybe_number,
})
monitoring_line = st.fixed_dictionaries({"topic": text, "status": text, "summary": text, "date": value})


@st.composite
def summary_facts(draw: st.DrawFn) -> dict[str, Any]:
    parts: dict[str, Any] = {"indication.documented": draw(indication)}
    for rule_id, facts in (("indication.prerequisites", st.one_of(myositis, rheumatoid, other_group)),
                           ("indication.continuation", st.one_of(cycle, course)),
                           ("dosing.regimen", st.one_of(dose_read, dose_unread, st.just({})))):
        if draw(st.booleans()):
            parts[rule_id] = draw(facts)
    return {"parts": parts, "product": draw(value), "dosing_warning": draw(st.booleans()),
            "monitoring": draw(st.lists(monitoring_line, max_size=3))}


@cache
def _template() -> jinja2.Template:
    """The reference, in cards.render's environment (the same escaping and whitespace rules); it counted
    its sections with Jinja's ``namespace``, a global the card environment no longer carries."""
    env = environment().overlay(loader=jinja2.FileSystemLoader(REFERENCE))
    env.globals = {"namespace": jinja2.utils.Namespace}
    return env.get_template("medical-necessity.md.j2")


def _by_template(facts: dict[str, Any]) -> str:
    return tidy(_template().render(facts=facts))


@settings(max_examples=600, deadline=None)
@given(summary_facts())
def test_necessity_text_equals_the_template_it_replaced(facts: dict[str, Any]) -> None:
    assert necessity_markdown(facts) == _by_template(facts)


def test_sections_are_numbered_in_order_and_values_escaped() -> None:
    facts = {
        "parts": {
            "indication.documented": {"display": "Dermatomyositis <b>", "labeled": False, "antisynthetase": True,
                                      "mda5": False, "ild": True, "other_groups": []},
            "dosing.regimen": {"indication": "IIM", "regimen": "1000 mg x2"},
        },
        "product": "Truxima", "dosing_warning": True,
        "monitoring": [{"topic": "hbv", "status": "done", "summary": "HBsAg *negative*", "date": "2026-01-02"}],
    }
    text = necessity_markdown(facts)
    assert text.startswith("**Assessment.** Rituximab (Truxima) for Dermatomyositis \\<b\\>: the documented")
    assert "\n\n**1. Indication.** Dermatomyositis \\<b\\>, documented" in text
    assert "\n\n**2. Regimen.** The ordered dose is not stated in mg or mg/m2" in text
    assert "\n\n**3. Safety work-up.**\n\n- hbv: done (HBsAg \\*negative\\*, latest 2026-01-02)" in text
    assert text.endswith("guideline recommendations are conditional.")
