"""What each service asks the EHR for: minimum necessary, US Core parameters, 2.0 restrictions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from service.clinical import labs
from service.fhir.queries import MEDICATION_SECTIONS, PREFETCH_TYPES, query_plan
from tests.scenarios import run_scenario

#: CDS Hooks 2.0 §Prefetch query restrictions: reference, token (OR list), date with a
#: prefix, _count and _sort; nothing else (no _include, no chains, no modifiers but :in).
_TOKEN = re.compile(r"[^,|&]+(\|[^,|&]+)?(,[^,|&]+(\|[^,|&]+)?)*")
_DATE = re.compile(r"(eq|lt|gt|ge|le)\d{4}-\d{2}-\d{2}")
_ALLOWED = {"patient": "reference", "code": "token", "category": "token", "intent": "token",
            "_count": "count", "_sort": "sort"}


@pytest.mark.parametrize("evaluation", ["order", "chart"])
def test_every_template_is_within_the_2_0_query_restrictions(evaluation):
    for key, template in query_plan(evaluation).templates.items():
        rtype, _, query = template.partition("?")
        if not query:
            assert rtype == f"{PREFETCH_TYPES[key]}/{{{{context.patientId}}}}"
            continue
        assert rtype == PREFETCH_TYPES[key]
        for name, value in parse_qsl(query, strict_parsing=True):
            kind = _ALLOWED.get(name)
            assert kind is not None, f"{name} in {template}"
            if kind == "reference":
                assert value == "{{context.patientId}}"
            elif kind == "token":
                assert _TOKEN.fullmatch(value), value
            elif kind == "count":
                assert value.isdigit()
            else:
                assert value == "-date"


def test_medication_request_searches_name_every_intent_as_us_core_requires():
    for evaluation in ("order", "chart"):
        query = dict(parse_qsl(query_plan(evaluation).templates["medicationRequests"].partition("?")[2]))
        assert set(query["intent"].split(",")) == {
            "proposal", "plan", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"}


def test_patient_view_asks_only_for_what_its_reminders_read():
    order, chart = query_plan("order").templates, query_plan("chart").templates
    # Conditions: the next-course reminder depends on the indication (an oncology regimen ends).
    assert set(chart) == {"conditions", "observations", *MEDICATION_SECTIONS}
    assert set(chart) < set(order)

    def codes(template):
        return set(dict(parse_qsl(template.partition("?")[2]))["code"].split(","))

    assert codes(chart["observations"]) < codes(order["observations"])
    assert "http://loinc.org|2465-3" in codes(chart["observations"])  # IgG
    assert "http://loinc.org|2157-6" not in codes(chart["observations"])  # CK: order-time only


@pytest.mark.parametrize("scenario", ["pv-overdue", "pv-never-rituximab"])
def test_monitoring_rules_read_no_code_outside_the_patient_view_template(scenario, monkeypatch):
    """Run every reminder, HBV DNA branch included, and record the codes the rules ask for."""
    chart_codes = {c.split("|")[1] for c in dict(parse_qsl(
        query_plan("chart").templates["observations"].partition("?")[2]))["code"].split(",")}
    asked: set[str] = set()
    real = labs.results

    def spy(record, codes):
        codes = list(codes)
        asked.update(codes)
        return real(record, codes)

    def hbv_exposed(bundle, request):
        for e in bundle["entry"]:
            if e["resource"].get("code", {}).get("coding", [{}])[0].get("code") == "16933-4":
                e["resource"]["valueCodeableConcept"] = {"text": "Positive"}

    monkeypatch.setattr(labs, "results", spy)
    outcome = run_scenario(scenario, edit=hbv_exposed)
    assert outcome.status == 200
    if scenario == "pv-overdue":
        assert "42595-9" in asked  # the HBV DNA branch ran
    assert asked <= chart_codes, asked - chart_codes


def test_only_the_order_services_search_laboratory_results_by_category_with_a_date_floor():
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert query_plan("chart").lab_search("p1", now) is None
    search = query_plan("order").lab_search("p1", now)
    assert search is not None
    params = dict(parse_qsl(search.partition("?")[2]))
    assert params["patient"] == "p1"
    assert params["category"] == "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    assert params["date"] == "ge2021-10-31"  # 60 months (queries.yaml)


def test_discovery_lists_a_smaller_prefetch_for_patient_view(client):
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    sign, view = services["rituximab-order-sign"], services["rituximab-monitoring"]
    assert set(view["prefetch"]) < set(sign["prefetch"])
    assert services["rituximab-order-select"]["prefetch"] == sign["prefetch"]
    assert "AllergyIntolerance" not in view["usageRequirements"]
    assert "AllergyIntolerance" in sign["usageRequirements"]
