"""Wire authentication and CORS into the Flask app."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, request
from flask_cors import CORS

from service.security.client_jwt import AuthenticationError, ClientAuthenticator
from service.security.issuers import load_trusted_issuers
from service.security.replay import replay_cache_for
from service.settings import Settings

log = logging.getLogger(__name__)

#: Paths served without a JWT: load-balancer health and the metrics scrape.
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json"})
#: Pages for people (the SMART course-review app): a browser carries no CDS client JWT;
#: the app authorizes through SMART App Launch instead.
PAGE_PREFIXES = ("/app/",)


def _unauthorized() -> Response:
    resp = jsonify({"error": "unauthorized", "message": "A valid CDS client JWT is required."})
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return resp


def install_security(app: Flask, settings: Settings) -> None:
    if settings.cors_origins:
        # Explicit origins only; no credentials, so never "*" with credentials.
        CORS(app, origins=list(settings.cors_origins), methods=["GET", "POST", "OPTIONS"],
             allow_headers=["Authorization", "Content-Type"], supports_credentials=False, max_age=600)
    if not settings.jwt_required:
        log.warning("CDS_JWT_REQUIRED=false: calls are not authenticated; development only")
        return
    issuers = load_trusted_issuers(settings.trusted_issuers_file) if settings.trusted_issuers_file else {}
    if not issuers:
        log.warning("no trusted CDS clients configured (CDS_TRUSTED_ISSUERS_FILE): every call will get 401")
    authenticator = ClientAuthenticator(issuers, replay_cache_for(settings.redis_url))
    app.extensions["cds.authenticator"] = authenticator
    failure_listeners = app.extensions.setdefault("cds.auth_failure_listeners", [])

    @app.before_request
    def _authenticate() -> Response | None:
        if request.method == "OPTIONS" or request.path in PUBLIC_PATHS or request.path.startswith(PAGE_PREFIXES):
            return None  # CORS preflight carries no JWT (CDS Hooks §CORS)
        base = settings.public_base_url or request.host_url.rstrip("/")
        audience = base + request.path
        try:
            g.cds_client = authenticator.authenticate(request.headers.get("Authorization"), audience)
        except AuthenticationError as exc:
            log.warning("authentication failed", extra={"reason": str(exc), "path": request.path})
            for listener in failure_listeners:
                listener(str(exc))
            return _unauthorized()
        return None
