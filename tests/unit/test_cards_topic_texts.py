"""The topic prose built in code (cards/topic_texts.py) equals the Jinja templates it replaced.

``tests/golden/safety.immunoglobulins.md.j2`` and ``safety.pregnancy.md.j2``
are those templates as they last rendered the cards, kept as the reference:
hypothesis walks their branches (each state, a trend of none, one or several
results, results without a readable unit, None where a value may be missing,
text full of markdown and line breaks) and the two must agree byte for byte.
The golden cards check the fixtures; this checks the branches no fixture reaches.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.render import environment, tidy
from cards.topic_texts import TOPIC_TEXTS, immunoglobulins_markdown, pregnancy_markdown

REFERENCE = Path(__file__).resolve().parents[1] / "golden"

#: values from the findings: markdown and HTML metacharacters, every line break md_escape knows, plain words
text = st.text(alphabet=st.sampled_from(list("\\`*_{}[]<>|#!~\r\n\u2028 aZ9-.,;()'é")), max_size=8)
value = st.one_of(text, st.none(), st.integers(-3, 400))
mg_dl = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 3000),
                  st.sampled_from([0.5, 1.5, 2.5, -0.0, 599.5]))
trend = st.lists(st.fixed_dictionaries({"date": st.one_of(st.none(), text), "mg_dl": mg_dl}), max_size=4)
igg_facts = st.one_of(
    st.fixed_dictionaries({"state": st.sampled_from(["missing", "unit-unknown", "ok", "other"]), "trend": trend},
                          optional={"value_mg_dl": value}),
    st.fixed_dictionaries({"state": st.just("low"), "value_mg_dl": value, "band": text, "threshold": value,
                           "date": value, "trend": trend}),
    st.fixed_dictionaries({"state": st.just("after-ivig"), "trend": trend, "days_after_ivig": value,
                           "ivig_date": value}),
)
pregnancy_facts = st.one_of(
    st.fixed_dictionaries({"state": st.just("pregnant")}),
    st.fixed_dictionaries({"state": st.sampled_from(["advisory", "tested"]), "test_days": value}),
)


@cache
def _template(name: str) -> jinja2.Template:
    """The reference, in cards.render's environment (the same escaping and whitespace rules)."""
    return environment().overlay(loader=jinja2.FileSystemLoader(REFERENCE)).get_template(name)


def _by_template(rule_id: str, facts: dict[str, Any]) -> str:
    return tidy(_template(f"{rule_id}.md.j2").render(facts=facts))


@settings(max_examples=500, deadline=None)
@given(igg_facts)
def test_immunoglobulins_text_equals_the_template_it_replaced(facts: dict[str, Any]) -> None:
    assert immunoglobulins_markdown(facts) == _by_template("safety.immunoglobulins", facts)


@settings(max_examples=200, deadline=None)
@given(pregnancy_facts)
def test_pregnancy_text_equals_the_template_it_replaced(facts: dict[str, Any]) -> None:
    assert pregnancy_markdown(facts) == _by_template("safety.pregnancy", facts)


def test_no_template_is_left_beside_its_text() -> None:
    """A template of the same name would be dead text that drifts from what the cards say."""
    for rule_id in TOPIC_TEXTS:
        assert not (Path(__file__).resolve().parents[2] / "cards" / "templates" / f"{rule_id}.md.j2").exists()
        assert (REFERENCE / f"{rule_id}.md.j2").exists()


def test_low_igg_reads_its_values_escaped() -> None:
    facts = {"state": "low", "value_mg_dl": 350, "band": "moderate <b>", "threshold": 600, "date": "2026-01-02",
             "trend": [{"date": "2026-01-02", "mg_dl": 350.4}, {"date": None, "mg_dl": None}]}
    text = immunoglobulins_markdown(facts)
    assert "\n\nLatest IgG **350 mg/dL** (2026-01-02): moderate \\<b\\> hypogammaglobulinemia." in text
    assert text.endswith("\n\nTrend: 2026-01-02: 350 mg/dL; : unit not interpretable.")
