"""The course-review view model: plots, the generic checklist, the timeline, the letter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.clinical import findings as findings_module
from service.clinical.findings import Evidence, Finding
from service.web.course_review import model
from service.web.course_review.charts import Reading, TimeAxis, build_plot
from tests.records import NOW, infusion, obs, record

START = datetime(2026, 1, 1, tzinfo=UTC)
AXIS = TimeAxis(START, START + timedelta(days=300))


def test_plot_puts_points_threshold_and_doses_on_one_axis():
    readings = [Reading(START + timedelta(days=100), 800.0, "800 mg/dL"),
                Reading(START + timedelta(days=200), 400.0, "4 g/L"),
                Reading(START + timedelta(days=250), None, "7 weird-unit")]
    plot = build_plot("igg", "IgG", "mg/dL", readings, AXIS, [(START + timedelta(days=150), "rituximab 1000 mg")],
                      threshold=(600.0, "below"))
    assert [p.shown for p in plot.points] == ["800 mg/dL", "4 g/L"]  # the unconvertible one is not plotted
    high, low = plot.points
    assert high.y < plot.threshold_y < low.y  # SVG y grows downwards
    assert high.x < plot.doses[0].x < low.x
    assert [r.shown for r in plot.rows] == ["7 weird-unit", "4 g/L", "800 mg/dL"]  # ...but is in the table
    assert plot.rows[0].note == "unit not convertible"
    assert plot.y_ticks[0].label == "0" and float(plot.y_ticks[-1].label.replace(",", "")) >= 800


def test_checklist_takes_any_topic_the_rules_add(monkeypatch: pytest.MonkeyPatch):
    """A topic added to the rules later (here a made-up one) appears without a change to the page."""
    monkeypatch.setattr(findings_module, "TOPICS", (*findings_module.TOPICS, "new-topic"))
    found = [
        Finding("safety.new", "1", "new-topic", "warning", "New check missing", missing=("the new test",)),
        Finding("safety.hbv", "1", "hbv", "pass", "HBsAg and anti-HBc negative",
                evidence=(Evidence("Observation", "o1", "HBsAg", "Negative", "2026-10-01"),)),
        Finding("safety.hbv", "1", "hbv", "critical", "HBsAg positive"),
        Finding("dosing.regimen", "1", "dosing", "warning", "Dose outside"),
    ]
    items = {i.topic: i for i in model.checklist(found)}
    assert set(items) == {"hbv", "new-topic"}  # dosing has its own section
    assert items["new-topic"].severity == "warning" and items["new-topic"].findings[0].missing == ("the new test",)
    assert items["new-topic"].label == "New topic"
    assert items["hbv"].severity == "critical"  # worst first, at the card's own level
    assert [f.severity for f in items["hbv"].findings] == ["critical", "pass"]
    assert list(items) == ["hbv", "new-topic"]  # contract order, new topics last


def test_checklist_labels_come_from_the_rule_registry():
    items = model.checklist([Finding("safety.hbv", "1", "hbv", "pass", "ok")])
    assert items[0].label == "Hepatitis B screening"


def test_timeline_groups_doses_into_courses_with_intervals():
    rec = record(infusion(400), infusion(386), infusion(200), infusion(20, mg=500))
    timeline = model.timeline(rec, [], [])
    assert [len(c.doses) for c in timeline.courses] == [2, 1, 1]
    assert [c.weeks_since_previous for c in timeline.courses] == [None, 28, 25]
    assert timeline.courses[0].total == "2000 mg"
    assert timeline.next_earliest == (NOW - timedelta(days=20) + timedelta(weeks=16)).date().isoformat()


def test_trends_plot_igg_in_mg_dl_with_the_rule_threshold():
    rec = record(infusion(100), obs("2465-3", 90, 5.5, "g/L"), obs("2465-3", 10, 700, "mg/dL"))
    plots = {p.key: p for p in model.trends(rec)}
    assert set(plots) == {"igg"}  # only trends with results
    igg = plots["igg"]
    assert len(igg.points) == 2 and igg.threshold_label.endswith("600 mg/dL")
    assert igg.points[0].y > igg.threshold_y  # 550 mg/dL is below the line
