"""The course-review app's pages: launch, callback, course, letter PDF, save.

One view per step of the SMART flow (STYLE.md §4): ``/app/launch`` checks
``iss`` against CDS_ALLOWED_FHIR_SERVERS, discovers the endpoints and
redirects with PKCE S256; ``/app/callback`` checks ``state`` against the
launch this browser started and trades the code for a token;
``/app/course`` gathers, evaluates and renders.  Every refusal is a
:class:`LaunchError` page, never a 500.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from service.fhir.access import FhirAccess
from service.web.course_review import documents, identity, smart
from service.web.course_review.app_state import CourseReviewState, state
from service.web.course_review.data import evaluate_course
from service.web.course_review.errors import (
    AuthorizationDenied,
    CsrfRejected,
    LaunchError,
    LaunchRequestError,
    MissingScope,
    ServerNotAllowed,
    SessionExpired,
    StateMismatch,
)
from service.web.course_review.model import course_review
from service.web.course_review.sessions import COOKIE_NAME

log = logging.getLogger(__name__)
bp = Blueprint("course_review", __name__, url_prefix="/app", template_folder="templates",
               static_folder="static", static_url_path="/static")

_PENDING_SECONDS = 600  # a sign-in at the EHR must finish within 10 minutes

#: No inline script or style anywhere; nothing from another origin; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The callback URL carries the authorization code: never send it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "course_review.static":
        response.headers["Cache-Control"] = "no-store"  # patient data stays out of caches
    return response


@bp.errorhandler(LaunchError)
def _launch_error(exc: LaunchError) -> tuple[str, int]:
    # The class name and status are safe to log; the message may name a scope, never a token.
    log.info("course review refused", extra={"reason": type(exc).__name__, "status": exc.status})
    return render_template("course_review/error.html", title=exc.title, message=str(exc)), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    return render_template("course_review/error.html", title=exc.name, message=exc.description), exc.code or 500


def _set_cookie(response: BaseResponse, app_state: CourseReviewState, session_id: str) -> None:
    response.set_cookie(COOKIE_NAME, app_state.cookies.sign(session_id), max_age=app_state.cookies.max_age_seconds,
                        httponly=True, secure=app_state.secure_cookies(request.host_url), samesite="Lax",
                        path="/app/")


def _current_session() -> tuple[str, dict[str, Any]]:
    app_state = state()
    session_id = app_state.cookies.unsign(request.cookies.get(COOKIE_NAME))
    data = app_state.store.get(session_id) if session_id else None
    if session_id is None or data is None or "access_token" not in data:
        raise SessionExpired("Open the course review again from the patient's chart or the card.")
    if data.get("expires_at", 0) < time.time():
        app_state.store.delete(session_id)
        raise SessionExpired("The access granted by the EHR has expired.")
    return session_id, data


@bp.get("/launch")
def launch() -> BaseResponse:
    """EHR launch (``iss`` and ``launch``) or standalone launch (``iss`` only)."""
    app_state = state()
    iss = (request.args.get("iss") or "").strip().rstrip("/")
    launch_id = request.args.get("launch") or None
    if not iss:
        raise LaunchRequestError("The launch URL needs an iss parameter (the FHIR server's base URL).")
    if not app_state.fhir_allowed(iss):
        # Checked before any connection: an unknown server never learns we exist.
        raise ServerNotAllowed("This FHIR server is not in CDS_ALLOWED_FHIR_SERVERS.")
    config = smart.discover(iss, app_state.http)
    redirect_uri = url_for("course_review.callback", _external=True)
    auth = smart.authorization_request(config, app_state.client_id, redirect_uri, iss, launch_id)
    session_id = app_state.cookies.new_id()
    app_state.store.put(session_id, {
        "pending": {"state": auth.state, "verifier": auth.code_verifier, "iss": iss,
                    "token_endpoint": config.token_endpoint, "redirect_uri": redirect_uri,
                    "issuer": config.issuer, "jwks_uri": config.jwks_uri,
                    "scope": smart.requested_scopes(launch_id is not None)},
    }, _PENDING_SECONDS)
    response = redirect(auth.url)
    _set_cookie(response, app_state, session_id)
    return response


@bp.get("/callback")
def callback() -> BaseResponse:
    """Check ``state``, exchange the code with the PKCE verifier, start the signed-in session."""
    app_state = state()
    session_id = app_state.cookies.unsign(request.cookies.get(COOKIE_NAME))
    data = app_state.store.get(session_id) if session_id else None
    pending = (data or {}).get("pending")
    if session_id is None or not pending:
        raise SessionExpired("This sign-in was not started from this browser, or took too long.")
    app_state.store.delete(session_id)  # single use, whatever happens next
    if not hmac.compare_digest(str(request.args.get("state", "")), pending["state"]):
        raise StateMismatch("The state parameter does not match: the sign-in was not accepted.")
    if request.args.get("error"):
        raise AuthorizationDenied(f"The EHR answered: {request.args['error'][:64]}.")
    code = request.args.get("code")
    if not code:
        raise LaunchRequestError("The EHR sent no authorization code.")
    grant = smart.exchange_code(pending["token_endpoint"], app_state.client_id, pending["redirect_uri"], code,
                                pending["verifier"], pending["scope"])
    lifetime = min(grant.expires_in, app_state.session_seconds)
    fhir_user = identity.verified_fhir_user(grant.id_token, pending.get("issuer"), pending.get("jwks_uri"),
                                            app_state.client_id, app_state.http)
    clinician = identity.clinician_name(app_state.runtime.client, FhirAccess(pending["iss"], grant.access_token),
                                        fhir_user) if fhir_user else None
    new_id = app_state.cookies.new_id()  # a fresh id once signed in (no session fixation)
    app_state.store.put(new_id, {
        "iss": pending["iss"], "access_token": grant.access_token, "expires_at": time.time() + lifetime,
        "scope": grant.scope, "patient": grant.patient, "app_context": grant.app_context,
        "csrf": secrets.token_urlsafe(32), "clinician": clinician,
    }, lifetime)
    response = redirect(url_for("course_review.course"))
    _set_cookie(response, app_state, new_id)
    return response


def _review(data: dict[str, Any]) -> Any:
    access = FhirAccess(data["iss"], data["access_token"])
    evaluated = evaluate_course(state().runtime, access, data["patient"], data.get("app_context"),
                                datetime.now(UTC))
    return course_review(evaluated.record, evaluated.orders, evaluated.order_findings, evaluated.chart_findings)


@bp.get("/course")
def course() -> str:
    _, data = _current_session()
    review = _review(data)
    saved = request.args.get("saved")
    return render_template("course_review/course.html", review=review, csrf=data["csrf"],
                           clinician=data.get("clinician"),
                           can_save=smart.can_save(data["scope"]) and review.letter.available,
                           saved=saved if saved and documents.looks_like_id(saved) else None)


@bp.get("/course/letter.pdf")
def letter_pdf() -> Response:
    _, data = _current_session()
    review = _review(data)
    if not review.letter.available:
        raise LaunchRequestError("There is no medical-necessity letter for this order: see the checklist.")
    pdf = documents.letter_pdf(review, data.get("clinician"))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="rituximab-necessity-{review.today}.pdf"'})


@bp.post("/course/save")
def save() -> BaseResponse:
    """Create the DocumentReference (the card's document, plus the PDF) on the FHIR server."""
    _, data = _current_session()
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, data["csrf"]):
        raise CsrfRejected("The save was not sent from this session's page: nothing was saved.")
    if not smart.can_save(data["scope"]):
        raise MissingScope(f"Not granted: {smart.SAVE_SCOPE}; nothing was saved.")
    review = _review(data)
    if not review.letter.available or review.letter.document is None:
        raise LaunchRequestError("There is no medical-necessity letter to save for this order.")
    resource = documents.with_pdf(review.letter.document, documents.letter_pdf(review, data.get("clinician")))
    created = documents.create(state().runtime.client.session, FhirAccess(data["iss"], data["access_token"]),
                               resource)
    return redirect(url_for("course_review.course", saved=created))
