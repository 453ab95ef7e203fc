"""Audit every invocation, persist feedback, serve override analytics."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app, g, jsonify, request

from service.hooks.invoke import HookOutcome
from service.hooks.registry import ServiceDefinition
from service.http.errors import error_response
from service.settings import Settings
from service.store.audit import AuditEntry, StoreUnavailable

if TYPE_CHECKING:
    from service.store.store import Store
    from service.store.worker_store import WorkerStore

log = logging.getLogger(__name__)
bp = Blueprint("store", __name__)


def audit_entry(service: ServiceDefinition, outcome: HookOutcome, latency_ms: float | None) -> AuditEntry:
    req = outcome.request
    gather = outcome.gather
    origins = dict(gather.origins) if gather else None
    return AuditEntry(
        service_id=service.id, status=outcome.status, hook=service.hook,
        hook_instance=req.hook_instance if req else None, patient_ref=req.patient_id if req else None,
        latency_ms=latency_ms, fhir_queries=gather.queries if gather else 0,
        fhir_ms=gather.fhir_ms if gather else None, data_origins=origins,
        cards=[{"uuid": c.uuid, "topic": c.topic, "indicator": c.indicator,
                "rules": (c.extension or {}).get("urn:rituximab-cds:rules", [])} for c in outcome.cards],
    )


def feedback_handler(store: Store | WorkerStore, max_items: int) -> Any:
    def handle(service_id: str, body: Any) -> Any:
        # Loaded on the first feedback call: validation reads the column lengths of the SQLAlchemy models.
        from service.store.feedback import FeedbackError, TooManyFeedbackItems, validate_feedback

        try:
            items = validate_feedback(body, max_items)
        except TooManyFeedbackItems as exc:
            return error_response(413, "request_entity_too_large", str(exc))
        except FeedbackError as exc:
            return error_response(400, "bad_request", str(exc))
        try:
            result = store.record_feedback(service_id, items)
        except StoreUnavailable:
            resp, status = error_response(503, "unavailable", "Feedback could not be stored; retry later.")
            resp.headers["Retry-After"] = "30"
            return resp, status
        return jsonify({"stored": result.stored, "duplicates": result.duplicates}), 200

    return handle


@bp.get("/analytics/overrides")
def overrides() -> Any:
    from datetime import date, datetime, time

    store: Store | WorkerStore = current_app.extensions["cds.store"]
    since_raw = request.args.get("since")
    since = None
    if since_raw is not None:
        try:
            if len(since_raw) != 10:
                raise ValueError(since_raw)
            since = datetime.combine(date.fromisoformat(since_raw), time.min)
        except ValueError:
            return error_response(400, "bad_request", "since must be an ISO date (YYYY-MM-DD)")
    try:
        return jsonify({"rows": store.override_report(since)})
    except Exception:  # noqa: BLE001 - a database failure is a 503, not a 500
        log.exception("override report failed")
        return error_response(503, "unavailable", "The analytics database is unavailable.")


def install_store(app: Flask, settings: Settings) -> Store | WorkerStore:
    """The app's store.  Under ``rituximab-cds serve`` (``settings.audit_socket`` set) a worker sends
    its audit entries to the server's writer process and does not migrate (the master did, once,
    before the workers started); otherwise the process migrates and writes its own rows."""
    store: Store | WorkerStore
    if settings.audit_socket:
        from service.store.worker_store import WorkerStore

        store = WorkerStore(settings, settings.audit_socket)
    else:
        from service.store.store import Store

        store = Store.from_settings(settings)
        try:
            store.migrate()
        except Exception as exc:  # noqa: BLE001 - start without the store rather than not at all
            log.error("database migration at start-up failed; audit and feedback will fail until it is reachable",
                      extra={"reason": type(exc).__name__})
    app.extensions["cds.store"] = store
    app.extensions["cds.feedback_handler"] = feedback_handler(store, settings.max_feedback_items)

    def audit(service: ServiceDefinition, outcome: HookOutcome) -> None:
        started = g.get("request_started")
        latency = round((time.perf_counter() - started) * 1000, 1) if started else None
        store.record_audit(audit_entry(service, outcome, latency))

    app.extensions["cds.invocation_listeners"].append(audit)
    app.register_blueprint(bp)
    return store
