"""The course-review page's view model, built from the record and the rules' findings.

Nothing here decides anything clinical: the checklist is the findings the
cards are built from, grouped by their topic (so a topic added to the rules
appears without a change here), at the same severities; the letter is the
medical-necessity card's own text; the timeline and trends read the record
with the helpers the rules use (rituximab_history, labs, medications, units).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from cards import CardContext, build_cards
from service.clinical import labs, units
from service.clinical.engine import load_rules
from service.clinical.fhir_values import as_list, codings, effective_datetime
from service.clinical.findings import TOPICS, Evidence, Finding
from service.clinical.medications import uses_of_class
from service.clinical.products import product
from service.clinical.record import OrderUnderReview, PatientRecord, Resource
from service.clinical.rituximab_history import Dose, courses, prior_doses
from service.knowledge import load
from service.web.course_review.charts import Plot, Reading, TimeAxis, build_plot

#: Topics the page shows in their own sections, not in the safety checklist.
_ELSEWHERE = frozenset({"indication", "dosing", "course-schedule", "data-access"})
_RANK = {"pass": 0, "info": 1, "warning": 2, "critical": 3}
_STATUS = {"pass": "done", "info": "advisory", "warning": "needs attention", "critical": "critical"}
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML in text is escaped


@dataclass(frozen=True)
class DoseRow:
    date: str
    product: str
    dose: str
    route: str
    reference: str


@dataclass(frozen=True)
class CourseRow:
    number: int
    start: str
    doses: list[DoseRow]
    total: str
    weeks_since_previous: int | None


@dataclass(frozen=True)
class Timeline:
    courses: list[CourseRow]
    regimen: str | None
    next_earliest: str | None
    next_typical: str | None
    schedule_note: str | None


@dataclass(frozen=True)
class FindingView:
    severity: str
    status: str
    summary: str
    evidence: tuple[Evidence, ...]
    missing: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class ChecklistItem:
    topic: str
    label: str
    severity: str
    status: str
    findings: list[FindingView]


@dataclass(frozen=True)
class Letter:
    available: bool
    html: Markup = Markup("")
    markdown: str = ""
    #: the DocumentReference the card's "save" suggestion creates (Save adds the PDF to it)
    document: dict[str, Any] | None = None
    #: why there is no letter (the warning summaries), when not available
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PatientBanner:
    id: str
    name: str
    birth_date: str
    gender: str


@dataclass(frozen=True)
class CourseReview:
    patient: PatientBanner
    order: str | None
    today: str
    timeline: Timeline
    trends: list[Plot]
    checklist: list[ChecklistItem]
    letter: Letter
    notices: list[str]


def _name(patient: Resource | None) -> str:
    for name in as_list((patient or {}).get("name")):
        if isinstance(name, dict):
            if isinstance(name.get("text"), str):
                return name["text"]
            given = " ".join(g for g in as_list(name.get("given")) if isinstance(g, str))
            family = name.get("family") if isinstance(name.get("family"), str) else ""
            if given or family:
                return f"{given} {family}".strip()
    return "(name not recorded)"


def patient_banner(record: PatientRecord) -> PatientBanner:
    p = record.patient or {}
    birth = str(p["birthDate"]) if isinstance(p.get("birthDate"), str) else "unknown"
    gender = str(p["gender"]) if isinstance(p.get("gender"), str) else "unknown"
    return PatientBanner(record.patient_id, _name(record.patient), birth, gender)


def _resource(record: PatientRecord, dose: Dose) -> Resource:
    section = {"MedicationAdministration": record.medication_administrations,
               "MedicationStatement": record.medication_statements,
               "MedicationRequest": record.medication_requests}.get(dose.resource_type, ())
    return next((r for r in section if r.get("id") == dose.resource_id), {})


def _route(resource: Resource) -> str:
    dosage = resource.get("dosage")
    dosage = (as_list(resource.get("dosageInstruction")) or [None])[0] if dosage is None else dosage
    if isinstance(dosage, list):
        dosage = dosage[0] if dosage else None
    route = dosage.get("route") if isinstance(dosage, dict) else None
    if isinstance(route, dict) and isinstance(route.get("text"), str) and route["text"]:
        return str(route["text"])
    return next((d for _, _, d in codings(route) if d), None) or "not recorded"


def _mg(value: float | None) -> str:
    return f"{value:g} mg" if value is not None else "dose not in mg"


def timeline(record: PatientRecord, order_findings: list[Finding], chart_findings: list[Finding]) -> Timeline:
    """Every rituximab dose, grouped into courses as the dosing rule groups them."""
    rows: list[CourseRow] = []
    found = courses(prior_doses(record))
    for number, course in enumerate(found, start=1):
        previous = found[number - 2] if number > 1 else None
        rows.append(CourseRow(
            number=number,
            start=course.start.date().isoformat(),
            doses=[DoseRow(d.when.date().isoformat(), product(d.product_key).get("display", d.product_key),
                           _mg(d.mg), _route(_resource(record, d)), f"{d.resource_type}/{d.resource_id}")
                   for d in course.doses],
            total=_mg(course.total_mg),
            weeks_since_previous=(course.start - previous.start).days // 7 if previous else None,
        ))
    regimen = next((f.facts.get("regimen") for f in order_findings if f.rule_id == "dosing.regimen"), None)
    schedule = next((f for f in chart_findings if f.topic == "course-schedule"), None)
    earliest = typical = None
    if found:
        # The window the monitoring rule uses (safety.yaml monitoring: RA label, not sooner than 16 weeks).
        conf = load("safety")["monitoring"]
        earliest = (found[-1].start + timedelta(weeks=conf["next_course_minimum_weeks"])).date().isoformat()
        typical = (found[-1].start + timedelta(weeks=conf["next_course_typical_weeks"])).date().isoformat()
    return Timeline(rows, regimen, earliest, typical, schedule.summary if schedule else None)


def _rule_titles() -> dict[str, str]:
    return {r.rule_id: r.title for r in load_rules()}


def _topic_order(topic: str) -> tuple[int, str]:
    return (TOPICS.index(topic) if topic in TOPICS else len(TOPICS), topic)


def checklist(findings: Iterable[Finding]) -> list[ChecklistItem]:
    """The safety findings by topic, worst first within a topic; topics in contract order."""
    titles = _rule_titles()
    by_topic: dict[str, list[Finding]] = {}
    for f in findings:
        if f.topic not in _ELSEWHERE:
            by_topic.setdefault(f.topic, []).append(f)
    items = []
    for topic in sorted(by_topic, key=_topic_order):
        group = sorted(by_topic[topic], key=lambda f: -_RANK[f.severity])
        worst = group[0].severity
        items.append(ChecklistItem(
            topic=topic,
            label=titles.get(group[0].rule_id, topic.replace("-", " ").capitalize()),
            severity=worst,
            status=_STATUS[worst],
            findings=[FindingView(f.severity, _STATUS[f.severity], f.summary, f.evidence, f.missing,
                                  f"{f.rule_id} v{f.rule_version}") for f in group],
        ))
    return items


def _readings(record: PatientRecord, series: dict[str, Any]) -> list[Reading]:
    codes = load("safety")["tests"][series["test"]]["loinc"] if "test" in series else series["loinc"]
    convert = getattr(units, series["convert"]) if "convert" in series else None
    out = []
    for result in labs.results(record, codes):
        if result.when is None:
            continue
        quantity = result.resource.get("valueQuantity")
        value = quantity.get("value") if isinstance(quantity, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        unit = str(quantity.get("unit") or quantity.get("code") or "")  # type: ignore[union-attr]
        plotted = convert(float(value), unit) if convert else float(value)
        out.append(Reading(result.when, plotted, labs.value_text(result.resource) or f"{value:g}"))
    return out


def _threshold(series: dict[str, Any]) -> tuple[float, str] | None:
    spec = series.get("threshold")
    if not spec:
        return None
    section, key = spec["ref"].split(".")
    return float(load("safety")[section][key]), spec["label"]


def trends(record: PatientRecord) -> list[Plot]:
    """One plot per trend of knowledge/course_review.yaml that has results."""
    doses = prior_doses(record)
    ivig = [(u.start, u.name) for u in uses_of_class(record, "ivig") if u.start is not None]
    series_readings = [(s, _readings(record, s)) for s in load("course_review")["trends"]]
    series_readings = [(s, r) for s, r in series_readings if r]
    dates = [d.when for d in doses] + [r.when for _, rs in series_readings for r in rs]
    if not dates:
        return []
    axis = TimeAxis(min(dates) - timedelta(days=14), max(record.now, max(dates)))
    dose_marks = [(d.when, f"rituximab {_mg(d.mg)}") for d in doses]
    return [build_plot(s["key"], s["title"], s["unit"], readings, axis, dose_marks, _threshold(s),
                       ivig if s.get("mark_ivig") else [])
            for s, readings in series_readings]


def letter(order_findings: list[Finding], ctx: CardContext) -> Letter:
    """The medical-necessity card's text and document, or why there is none."""
    for card in build_cards(order_findings, ctx):
        for suggestion in card.model().suggestions:
            for action in suggestion.actions:
                if action.resource and action.resource.get("resourceType") == "DocumentReference":
                    markdown = card.detail or ""
                    return Letter(True, Markup(_MARKDOWN.render(markdown)), markdown, action.resource)  # noqa: S704
    reasons = [f.summary for f in order_findings
               if f.topic in ("indication", "dosing") and f.severity in ("warning", "critical")]
    return Letter(False, reasons=reasons)


def course_review(
    record: PatientRecord,
    orders: list[OrderUnderReview],
    order_findings: list[Finding],
    chart_findings: list[Finding],
    user_id: str | None = None,
) -> CourseReview:
    """Everything the page shows."""
    today = record.now.date().isoformat()
    notices = [f.summary for f in order_findings + chart_findings if f.topic == "data-access"]
    order = None
    if orders:
        first = orders[0]
        when = effective_datetime(first.request)
        order = (f"{product(first.product_key).get('display', first.product_key)} "
                 f"({first.reference}{', ' + when.date().isoformat() if when else ''})")
    return CourseReview(
        patient=patient_banner(record),
        order=order,
        today=today,
        timeline=timeline(record, order_findings, chart_findings),
        trends=trends(record),
        checklist=checklist(order_findings + chart_findings),
        letter=letter(order_findings, CardContext(patient_id=record.patient_id, user_id=user_id, today=today)),
        notices=list(dict.fromkeys(notices)),
    )
