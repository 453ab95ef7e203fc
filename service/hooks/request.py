"""Lenient parsing of a CDS Hooks 2.0 request (spec §Calling a CDS Service).

Real clients deviate from the spec in harmless ways (the sandbox sends
``category`` as an object, no ``Bundle.type``, orders without ``intent``,
re-signed orders not in draft status): those are accepted.  Only what makes
evaluation impossible is rejected, with a message naming the problem.

Identifiers are the exception: they end up in FHIR URLs, audit rows and the
resources the cards suggest, so they are checked strictly at the edge.
``patientId`` ``"a,b"`` would search two charts at once, ``"../x"`` would
leave the FHIR base, ``"x&patient=y"`` would add a search parameter; a
``hookInstance`` with NUL or 10,000 characters could not be audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from service.clinical.fhir_values import with_usable_id
from service.fhir.access import FhirAccess
from service.hooks.registry import ServiceDefinition


class HookRequestError(ValueError):
    """The body is not a usable CDS Hooks request (-> 400 with this message)."""


#: FHIR R4 id datatype (https://hl7.org/fhir/R4/datatypes.html#id); "." and ".." are refused too
#: (they are dot segments in a URL path).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: userId: "Practitioner/abc", "PractitionerRole/123" (CDS Hooks 2.0 §order-sign context).
USER_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
#: hookInstance is a UUID in the spec; any printable ASCII up to the audit column's length is tolerated.
HOOK_INSTANCE = re.compile(r"[\x21-\x7e]{1,128}")


def _identifier(value: str | None, pattern: re.Pattern[str], field_name: str, shape: str) -> str | None:
    if value is None:
        return None
    if not pattern.fullmatch(value) or value.split("/")[-1].strip(".") == "":
        raise HookRequestError(f"{field_name} must be {shape}")
    return value


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    patient_id: str
    user_id: str | None
    encounter_id: str | None
    #: draft order resources (order-sign / order-select), in bundle order
    draft_orders: tuple[dict[str, Any], ...] = ()
    #: "Type/id" references the user selected (order-select)
    selections: tuple[str, ...] = ()
    prefetch: dict[str, Any] = field(default_factory=dict)
    fhir: FhirAccess | None = None


def _string(obj: dict[str, Any], key: str, where: str, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise HookRequestError(f"{where}{key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise HookRequestError(f"{where}{key} must be a non-empty string")
    return value.strip()


def _draft_orders(value: Any) -> tuple[dict[str, Any], ...]:
    """Resources of ``context.draftOrders`` (a Bundle; tolerate a bare list)."""
    if isinstance(value, dict):
        if value.get("resourceType") not in (None, "Bundle"):
            # A single resource instead of a Bundle: accept it as the only order.
            return (with_usable_id(value),) if isinstance(value.get("resourceType"), str) else ()
        entries = value.get("entry") or []
    elif isinstance(value, list):
        entries = value
    else:
        raise HookRequestError("context.draftOrders must be a FHIR Bundle")
    if not isinstance(entries, list):
        raise HookRequestError("context.draftOrders.entry must be an array")
    out = []
    for item in entries:
        resource = item.get("resource") if isinstance(item, dict) and "resource" in item else item
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            out.append(with_usable_id(resource))  # ids are str | None from here on
    return tuple(out)


def parse_hook_request(body: Any, service: ServiceDefinition) -> HookRequest:
    """Validate and normalise a hook request for ``service``."""
    if not isinstance(body, dict):
        raise HookRequestError("the request body must be a JSON object (a CDS Hooks request)")
    hook = _string(body, "hook", "", required=True)
    if hook != service.hook:
        raise HookRequestError(
            f"hook {hook!r} does not match service {service.id!r}, which answers {service.hook!r}"
        )
    hook_instance = _identifier(_string(body, "hookInstance", "", required=True), HOOK_INSTANCE, "hookInstance",
                                "a UUID (at most 128 printable ASCII characters, no spaces)")
    context = body.get("context")
    if not isinstance(context, dict):
        raise HookRequestError("context is required and must be an object")
    fhir_id = "a FHIR id (1-64 of A-Z a-z 0-9 - .)"
    patient_id = _identifier(_string(context, "patientId", "context.", required=True), FHIR_ID,
                             "context.patientId", fhir_id)
    user_id = _identifier(_string(context, "userId", "context.", required=False), USER_REFERENCE,
                          "context.userId", "a reference such as Practitioner/<FHIR id>")
    encounter_id = _identifier(_string(context, "encounterId", "context.", required=False), FHIR_ID,
                               "context.encounterId", fhir_id)

    draft_orders: tuple[dict[str, Any], ...] = ()
    selections: tuple[str, ...] = ()
    if service.hook in ("order-sign", "order-select"):
        if "draftOrders" not in context:
            raise HookRequestError("context.draftOrders is required for " + service.hook)
        draft_orders = _draft_orders(context["draftOrders"])
    if service.hook == "order-select":
        raw = context.get("selections")
        if raw is None:
            raise HookRequestError("context.selections is required for order-select")
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise HookRequestError("context.selections must be an array of references")
        selections = tuple(raw)

    prefetch = body.get("prefetch")
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise HookRequestError("prefetch must be an object")

    fhir_server = _string(body, "fhirServer", "", required=False)
    auth = body.get("fhirAuthorization")
    token: str | None = None
    if auth is not None:
        if not isinstance(auth, dict) or not isinstance(auth.get("access_token"), str):
            raise HookRequestError("fhirAuthorization must be an object with an access_token")
        if not fhir_server:
            raise HookRequestError("fhirServer is required when fhirAuthorization is given")
        token = auth["access_token"]
    fhir = FhirAccess(base_url=fhir_server.rstrip("/"), access_token=token) if fhir_server else None

    return HookRequest(
        hook=hook,
        hook_instance=hook_instance or "",
        patient_id=patient_id or "",
        user_id=user_id,
        encounter_id=encounter_id,
        draft_orders=draft_orders,
        selections=selections,
        prefetch=prefetch,
        fhir=fhir,
    )
