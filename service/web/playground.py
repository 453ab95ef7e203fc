"""``/playground``: fire fixture hooks at this service and see the cards as an EHR shows them.

Development mode only (registered when JWT is off, so it is a 404 otherwise).
The page is server-rendered and needs no JavaScript: a form picks a fixture
request (or takes a pasted one), the hook and the data path; the view sends
it through the service's own WSGI stack (JWT, audit, metrics and all, as
the EHR's call would go) and renders the cards beside the raw request and
response.  Accept and override buttons send real feedback the same way.
It gives what the public sandbox cannot: a rituximab order-sign in a browser.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from markdown_it import MarkdownIt
from markupsafe import Markup
from werkzeug.test import Client

from service.hooks.registry import SERVICE_ID_BY_HOOK
from service.hooks.summary import describe_orders, describe_patient
from service.settings import Settings

bp = Blueprint("playground", __name__, url_prefix="/playground",
               template_folder="playground_templates", static_folder="playground_static",
               static_url_path="/static")

HOOKS = ("order-sign", "order-select", "patient-view")
DATA_PATHS = {"prefetch": "prefetch filled from the FHIR server (as an EHR does)",
              "query": "no prefetch: the service queries the FHIR server"}


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML off: card details carry EHR values, and this page must not run what they contain.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


@dataclass
class CardView:
    """What the template shows of one card (the EHR's view of it)."""

    uuid: str
    indicator: str
    summary: str
    topic: str
    detail_html: Markup
    source_label: str
    source_url: str
    suggestions: list[dict[str, Any]]
    override_reasons: list[dict[str, Any]]
    links: list[dict[str, Any]]


def card_view(card: dict[str, Any]) -> CardView:
    source = card.get("source") or {}
    return CardView(
        uuid=str(card.get("uuid", "")), indicator=str(card.get("indicator", "info")),
        summary=str(card.get("summary", "")), topic=str((source.get("topic") or {}).get("code", "")),
        detail_html=Markup(_markdown().render(str(card.get("detail") or ""))),  # noqa: S704 - html disabled above
        source_label=str(source.get("label", "")), source_url=str(source.get("url", "")),
        suggestions=list(card.get("suggestions") or []), override_reasons=list(card.get("overrideReasons") or []),
        links=list(card.get("links") or []),
    )


@dataclass
class Exchange:
    """One hook call as the page shows it."""

    service_id: str
    request: dict[str, Any]
    status: int
    response: Any
    patient: str = ""
    orders: list[str] = field(default_factory=list)
    notice: str = ""

    @property
    def cards(self) -> list[CardView]:
        body = self.response if isinstance(self.response, dict) else {}
        return [card_view(c) for c in body.get("cards") or [] if isinstance(c, dict)]

    def as_json(self, value: Any) -> str:
        return json.dumps(value, indent=2)


def _fhir_server(settings: Settings) -> str | None:
    """The demo's FHIR server: the first allowlisted base URL that is not the ``*`` wildcard."""
    return next((u for u in settings.allowed_fhir_servers if u != "*"), None)


def with_hook(body: dict[str, Any], hook: str) -> dict[str, Any]:
    """The request turned into ``hook``'s shape (order-select names its selections; patient-view has no orders)."""
    context = dict(body.get("context") or {})
    drafts = context.get("draftOrders") or {}
    order_refs = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in drafts.get("entry") or []
                  if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e["resource"].get("id")]
    if hook == "patient-view":
        context = {k: v for k, v in context.items() if k in ("patientId", "userId", "encounterId")}
    elif not order_refs:
        raise ValueError(f"{hook} needs a draft order, and this request has none")
    elif hook == "order-select":
        context["selections"] = order_refs
    else:
        context.pop("selections", None)
    return {**body, "hook": hook, "context": context}


def build_request(name: str | None, pasted: str, hook: str, data_path: str, fhir_server: str | None) -> dict[str, Any]:
    """The hook request to fire; ValueError with a message for the page when it cannot be built."""
    from fhir_fixtures import load_bundle, load_request, scenario_names
    from service.hooks.prefetch import bundle_to_prefetch, prefetch_from_server

    today = datetime.now(UTC).date()
    if pasted.strip():
        try:
            body = json.loads(pasted)
        except ValueError as exc:
            raise ValueError(f"the pasted request is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("context"), dict):
            raise ValueError("the pasted request needs a JSON object with a context")
        return body  # sent as pasted: the integrator's own request, unchanged
    if not name:
        raise ValueError("pick a fixture request or paste one")
    body = with_hook(load_request(name, today), hook or load_request(name)["hook"])
    body["hookInstance"] = str(uuid.uuid4())
    patient_id = str(body["context"].get("patientId", ""))
    body.pop("prefetch", None)
    if fhir_server:
        body["fhirServer"] = fhir_server
    if data_path == "prefetch":
        if fhir_server:
            body["prefetch"] = prefetch_from_server(fhir_server, patient_id)
        elif patient_id in scenario_names():
            body["prefetch"] = bundle_to_prefetch(load_bundle(patient_id, today), patient_id)
    return body


def _call(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """POST through this app's own WSGI stack, exactly as an HTTP call would go (no socket)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    resp = Client(app).post(path, json=body)
    try:
        return resp.status_code, json.loads(resp.get_data(as_text=True))
    except ValueError:
        return resp.status_code, resp.get_data(as_text=True)


def _patient_line(body: dict[str, Any]) -> str:
    from fhir_fixtures import load_bundle, scenario_names

    patient_id = str((body.get("context") or {}).get("patientId", ""))
    patient = (body.get("prefetch") or {}).get("patient")
    if not isinstance(patient, dict) and patient_id in scenario_names():
        patient = next((e["resource"] for e in load_bundle(patient_id)["entry"]
                        if e["resource"].get("resourceType") == "Patient"), None)
    return describe_patient(patient if isinstance(patient, dict) else None, patient_id)


def fire(body: dict[str, Any]) -> Exchange:
    service_id = SERVICE_ID_BY_HOOK.get(str(body.get("hook")), "")
    if not service_id:
        return Exchange("", body, 0, None, notice=f"unknown hook {body.get('hook')!r}")
    status, response = _call(f"/cds-services/{service_id}", body)
    return Exchange(service_id, body, status, response, patient=_patient_line(body), orders=describe_orders(body))


def feedback_body(card_uuid: str, outcome: str, reason: dict[str, Any] | None,
                  suggestion_ids: list[str]) -> dict[str, Any]:
    """A CDS Hooks 2.0 feedback body for one card."""
    item: dict[str, Any] = {"card": card_uuid, "outcome": outcome,
                            "outcomeTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if outcome == "accepted" and suggestion_ids:
        item["acceptedSuggestions"] = [{"id": s} for s in suggestion_ids]
    if outcome == "overridden" and reason:
        item["overrideReason"] = {"reason": reason}
    return {"feedback": [item]}


def _page(exchange: Exchange | None = None, error: str = "", form: dict[str, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    from fhir_fixtures import request_names

    settings: Settings = current_app.extensions["cds.settings"]
    return render_template(
        "playground/index.html", names=request_names(), hooks=HOOKS, data_paths=DATA_PATHS,
        fhir_server=_fhir_server(settings), exchange=exchange, error=error,
        form=form or {"name": "seed-a", "hook": "", "data_path": "prefetch", "pasted": ""},
    ), status


@bp.get("")
def index() -> tuple[str, int]:
    return _page()


@bp.post("/fire")
def fire_view() -> tuple[str, int]:
    form = {k: request.form.get(k, "") for k in ("name", "hook", "data_path", "pasted")}
    if form["hook"] and form["hook"] not in HOOKS:
        return _page(error=f"unknown hook {form['hook']!r}", form=form, status=400)
    settings: Settings = current_app.extensions["cds.settings"]
    try:
        body = build_request(form["name"] or None, form["pasted"], form["hook"], form["data_path"],
                             _fhir_server(settings))
    except (ValueError, FileNotFoundError) as exc:
        return _page(error=str(exc), form=form, status=400)
    return _page(fire(body), form=form)


@bp.post("/feedback")
def feedback_view() -> tuple[str, int]:
    """Send feedback for one card, then show the same exchange again with the answer."""
    form = {k: request.form.get(k, "") for k in ("name", "hook", "data_path", "pasted")}
    try:
        exchange = Exchange(request.form["service_id"], json.loads(request.form["request_json"]),
                            int(request.form["status"]), json.loads(request.form["response_json"]))
        reason = json.loads(request.form["reason"]) if request.form.get("reason") else None
    except (KeyError, ValueError):
        return _page(error="the feedback form is incomplete", form=form, status=400)
    suggestions = request.form.getlist("suggestion")
    # A suggestion button accepts the card with that suggestion (CDS Hooks 2.0 §Feedback acceptedSuggestions).
    outcome = request.form.get("outcome") or ("accepted" if suggestions else "")
    if outcome not in ("accepted", "overridden") or exchange.service_id not in SERVICE_ID_BY_HOOK.values():
        return _page(error="the feedback form is incomplete", form=form, status=400)
    status, answer = _call(f"/cds-services/{exchange.service_id}/feedback",
                           feedback_body(request.form.get("card", ""), outcome, reason,
                                         suggestions))
    exchange.patient, exchange.orders = _patient_line(exchange.request), describe_orders(exchange.request)
    exchange.notice = (f"Feedback ({outcome}) stored: HTTP {status}" if status == 200
                       else f"Feedback ({outcome}) refused: HTTP {status} {json.dumps(answer)}")
    return _page(exchange, form=form)


def install_playground(app: Flask, settings: Settings) -> None:
    """Register ``/playground`` in development mode only (JWT off); otherwise it does not exist (404)."""
    if not settings.jwt_required:
        app.register_blueprint(bp)
