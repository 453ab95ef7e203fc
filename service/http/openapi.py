"""OpenAPI 3.1 description of the HTTP interface, served at ``GET /openapi.json``.

The CDS Hooks payload schemas are not written twice: the document embeds the
``$defs`` of ``service/hooks/schema/cds-hooks-2.0.schema.json`` (the schema
the tests validate every response against) as ``components/schemas``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify

from service.hooks.registry import SERVICES_BY_ID

bp = Blueprint("openapi", __name__)

_REF_PREFIX = "#/$defs/"
_COMPONENTS = "#/components/schemas/"


def _rewrite_refs(node: Any) -> Any:
    """Point the JSON Schema's local ``$ref``s at OpenAPI components."""
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            out["$ref"] = _COMPONENTS + ref[len(_REF_PREFIX):]
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _cds_hooks_schemas() -> dict[str, Any]:
    text = resources.files("service.hooks").joinpath("schema/cds-hooks-2.0.schema.json").read_text("utf-8")
    defs: dict[str, Any] = _rewrite_refs(json.loads(text)["$defs"])
    return defs


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _COMPONENTS + name}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out = _json(_ref("error"), description)
    if headers:
        out["headers"] = headers
    return out


_SECURED: list[dict[str, list[str]]] = [{"cdsClientJwt": []}]
_UNAUTHORIZED = _error("Missing or invalid CDS client JWT (when JWT verification is on)")
_BAD_BODY = {
    "400": _error("The body is not valid JSON, too deeply nested, or not a valid request; nothing was changed"),
    "413": _error("The body is larger than the configured limit"),
    "415": _error("Content-Type is not application/json"),
}
_SERVICE_ID = {"name": "service_id", "in": "path", "required": True,
               "schema": {"type": "string", "enum": sorted(SERVICES_BY_ID)}}


_TEXT = {"type": "string", "pattern": "\\S"}  # non-empty after trimming, as the service reads it


def _request_schema(hook: str) -> dict[str, Any]:
    """The CDS Hooks request narrowed to what this service's hook requires (context per hook)."""
    context: dict[str, Any] = {"type": "object", "required": ["patientId"],
                               "properties": {"patientId": _TEXT, "userId": _TEXT, "encounterId": _TEXT}}
    if hook in ("order-sign", "order-select"):
        context["required"].append("draftOrders")
        context["properties"]["draftOrders"] = {"type": ["object", "array"]}
    if hook == "order-select":
        context["required"].append("selections")
        context["properties"]["selections"] = {"type": "array", "items": {"type": "string"}}
    return {"allOf": [_ref("request"), {
        "type": "object",
        "properties": {"hook": {"const": hook}, "hookInstance": _TEXT, "fhirServer": _TEXT, "context": context},
        "dependentRequired": {"fhirAuthorization": ["fhirServer"]},
    }]}


def _invoke_operation(service_id: str) -> dict[str, Any]:
    service = SERVICES_BY_ID[service_id]
    return {
        "post": {
            "operationId": f"invoke-{service_id}",
            "summary": f"{service.title} ({service.hook} hook)",
            "description": service.description,
            "security": _SECURED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _request_schema(
                service.hook)}}},
            "responses": {
                "200": _json(_ref("response"), "CDS cards (possibly none)"),
                **_BAD_BODY,
                "401": _UNAUTHORIZED,
                "412": _json({"allOf": [_ref("error"), {"type": "object", "properties": {
                    "missingPrefetch": {"type": "array", "items": {"type": "string"}}}}]},
                    "The prefetch lacks data the rules need and no FHIR server may be queried"),
            },
        }
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    schemas = _cds_hooks_schemas()
    schemas["error"] = {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    schemas["feedbackAck"] = {
        "type": "object", "required": ["stored", "duplicates"],
        "properties": {"stored": {"type": "integer", "minimum": 0}, "duplicates": {"type": "integer", "minimum": 0}},
    }
    paths: dict[str, Any] = {
        "/cds-services": {"get": {
            "operationId": "discovery", "summary": "CDS Hooks discovery", "security": _SECURED,
            "responses": {"200": _json(_ref("discovery"), "The services and their prefetch templates"),
                          "401": _UNAUTHORIZED},
        }},
        "/cds-services/{service_id}/feedback": {"post": {
            "operationId": "feedback", "summary": "Card outcome feedback (accepted/overridden, override reasons)",
            "security": _SECURED, "parameters": [_SERVICE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("feedback")}}},
            "responses": {
                "200": _json(_ref("feedbackAck"), "Stored; a repeated report is counted as a duplicate"),
                **_BAD_BODY, "401": _UNAUTHORIZED,
                "404": _error("No such service"),
                "503": _error("The feedback store is unavailable; nothing was stored, retry later",
                              {"Retry-After": {"schema": {"type": "string"}}}),
            },
        }},
        "/healthz": {"get": {
            "operationId": "health", "summary": "Liveness (reveals nothing about patients or configuration)",
            "responses": {"200": _json({"type": "object", "required": ["status"],
                                        "properties": {"status": {"const": "ok"}}}, "Alive")},
        }},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics (all workers)",
            "responses": {"200": {"description": "Prometheus text exposition format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/analytics/overrides": {"get": {
            "operationId": "override-report", "summary": "Override rate per card topic and reason",
            "security": _SECURED,
            "parameters": [{"name": "since", "in": "query", "required": False,
                            "description": "ISO date; only feedback on or after it",
                            "schema": {"type": "string", "format": "date"}}],
            "responses": {
                "200": _json({"type": "object", "required": ["rows"],
                              "properties": {"rows": {"type": "array", "items": {"type": "object"}}}},
                             "One row per topic and outcome"),
                "400": _error("since is not an ISO date"), "401": _UNAUTHORIZED,
                "503": _error("The analytics database is unavailable"),
            },
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
        }},
    }
    for service_id in sorted(SERVICES_BY_ID):
        paths[f"/cds-services/{service_id}"] = _invoke_operation(service_id)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Rituximab CDS Hooks service",
            "version": "1.0.0",
            "description": ("CDS Hooks 2.0 services for rituximab orders (order-sign, order-select) and "
                            "monitoring (patient-view). Payload schemas are those of the CDS Hooks 2.0 "
                            "specification (https://cds-hooks.hl7.org/2.0/)."),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"cdsClientJwt": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "CDS Hooks 2.0 client JWT (asymmetric, trusted issuers; see README)",
            }},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())
