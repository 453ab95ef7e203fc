"""Rituximab doses and courses before an order (service/clinical/rituximab_history.py)."""

from __future__ import annotations

from typing import Any

from service.clinical.record import OrderUnderReview
from service.clinical.rituximab_history import Course, courses, courses_before, doses_before, prior_doses
from tests.records import ago, infusion, record, rituximab_order


def _request(rid: str, days: float, mg: float = 1000) -> dict[str, Any]:
    """A rituximab MedicationRequest the EHR lists as history (an active order, not a draft)."""
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "rituximab"}, "authoredOn": ago(days),
            "dosage": {"dose": {"value": mg, "unit": "mg"}}}


def _order(rid: object) -> OrderUnderReview:
    order = rituximab_order()
    return OrderUnderReview({**order.request, "id": rid}, order.product_key, order.matched_by)


def test_courses_group_doses_within_the_course_window():
    r = record(infusion(400), infusion(386), infusion(200, mg=500), infusion(10))
    found = courses(prior_doses(r))
    assert [len(c.doses) for c in found] == [2, 1, 1]
    assert found[0].start == found[0].doses[0].when and found[0].total_mg == 2000
    assert [c.total_mg for c in found[1:]] == [500, 1000]


def test_the_order_listed_in_the_history_is_left_out():
    r = record(_request("rx-old", 300), _request("draft1", 1, mg=500))
    order = rituximab_order()  # id "draft1"
    assert [d.resource_id for d in prior_doses(r)] == ["rx-old", "draft1"]
    assert [d.resource_id for d in doses_before(r, order)] == ["rx-old"]
    found = courses_before(r, order)
    assert found == courses(doses_before(r, order)) and [c.total_mg for c in found] == [1000]
    # another order (or one without an id) sees the whole history
    for other in (_order("draft2"), _order(None), _order(7)):
        assert doses_before(r, other) == prior_doses(r)
        assert [c.total_mg for c in courses_before(r, other)] == [1000, 500]
    assert courses_before(r, order) is found  # grouped once per order


def test_an_order_absent_from_the_history_gets_the_record_list():
    r = record(infusion(200), infusion(20))
    order = rituximab_order()
    assert doses_before(r, order) is prior_doses(r)
    assert courses_before(r, order) == courses(prior_doses(r)) == [
        Course(d.when, (d,)) for d in prior_doses(r)]
