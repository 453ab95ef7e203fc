"""The CDS Hooks endpoints: discovery, invocation, feedback; plus health."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.sansio.utils import get_current_url

from service.hooks.invoke import HookOutcome, handle_hook
from service.hooks.registry import SERVICES_BY_ID, discovery_document
from service.hooks.request import HookRequestError
from service.http import json_body
from service.http.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("cds", __name__)


def read_json_body() -> Any:
    """The request's JSON body, or a 400/415 response tuple."""
    ctype = (request.mimetype or "").lower()
    if ctype not in ("application/json", "application/fhir+json") and not ctype.endswith("+json"):
        return error_response(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = _body_bytes()
    if raw is None:
        return error_response(413, "request_entity_too_large", "The body is larger than the size limit.")
    limit = current_app.extensions["cds.settings"].max_json_depth
    try:
        return json_body.loads(raw, max_depth=limit)
    except json_body.TooDeep:
        return error_response(400, "bad_request", f"The JSON body is nested deeper than {limit} levels.")
    except ValueError:
        return error_response(400, "bad_request", "The body is not valid JSON.")


def _body_bytes() -> bytes | None:
    """The raw body, or None when it is over the size limit.

    Werkzeug checks ``MAX_CONTENT_LENGTH`` against Content-Length; a chunked
    body has none, and was silently cut at the limit (then "not valid JSON").
    So read one byte past the limit and count.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return request.get_data(cache=True)
    raw: bytes = request.environ["wsgi.input"].read(limit + 1)
    return None if len(raw) > limit else raw


def _is_error(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int)


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness for load balancers: reveals nothing about patients or config."""
    return jsonify({"status": "ok"})


@bp.get("/cds-services")
def discovery() -> Response:
    return jsonify(discovery_document())


@bp.post("/cds-services/<service_id>")
def invoke(service_id: str) -> Any:
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        return error_response(404, "not_found", f"No CDS service with id {service_id!r}.")
    g.service_id = service_id
    body = read_json_body()
    if _is_error(body):
        return body
    extensions = current_app.extensions
    try:
        outcome = handle_hook(service, body, extensions["cds.runtime"], app_launch_url=_app_launch_url())
    except HookRequestError as exc:
        return error_response(400, "bad_request", str(exc))
    g.hook_outcome = outcome
    for listener in extensions.get("cds.invocation_listeners", []):
        listener(service, outcome)
    # orjson: the answer is built from plain dicts, lists and strings; several times faster than json.
    resp = Response(orjson.dumps(outcome.body), status=outcome.status, mimetype="application/json")
    resp.headers["Server-Timing"] = server_timing(outcome)
    return resp


def _app_launch_url() -> str | None:
    """The course-review app's SMART launch URL, as the EHR reaches this service."""
    if "course_review.launch" not in current_app.view_functions:
        return None
    base = current_app.extensions["cds.settings"].public_base_url or _host_base(request.scheme, request.host)
    return base + "/app/launch"


@lru_cache(maxsize=64)
def _host_base(scheme: str, host: str) -> str:
    """``request.host_url`` without its slash, by werkzeug's own function, remembered: it decodes
    the URL to an IRI, a tenth of the HTTP layer's own time per call for an answer that hardly
    ever changes (the cache is bounded: the Host header is the client's)."""
    return get_current_url(scheme, host).rstrip("/")


def server_timing(outcome: HookOutcome) -> str:
    """``Server-Timing`` header: one metric per stage (W3C Server Timing)."""
    parts = [f"{stage};dur={ms:.1f}" for stage, ms in outcome.timings.items()]
    if outcome.gather is not None:
        # How many FHIR requests the call made, and the slowest (they run in parallel).
        parts.append(f'fhir;dur={outcome.gather.fhir_ms:.1f};desc="{outcome.gather.queries} queries"')
    return ", ".join(parts)


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Any:
    if service_id not in SERVICES_BY_ID:
        return error_response(404, "not_found", f"No CDS service with id {service_id!r}.")
    g.service_id = service_id
    body = read_json_body()
    if _is_error(body):
        return body
    handler = current_app.extensions["cds.feedback_handler"]
    return handler(service_id, body)
