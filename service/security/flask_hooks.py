"""Wire authentication and CORS into the Flask app.

The JWT ``aud`` is compared with ``CDS_PUBLIC_BASE_URL`` + path.  Unset, the
base is the address the server itself listens on (WSGI ``SERVER_NAME`` and
``SERVER_PORT``; gunicorn fills them from its bound socket), never the
client's ``Host`` header: otherwise a token minted for another CDS service
would be accepted by sending its host name along with it.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, request

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


def listening_base(environ: dict[str, str]) -> str:
    """scheme://SERVER_NAME[:SERVER_PORT]: where this server listens, as WSGI tells it."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("SERVER_NAME", "")
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    port = environ.get("SERVER_PORT", "")
    default = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://{host}" if port in ("", default) else f"{scheme}://{host}:{port}"


def install_security(app: Flask, settings: Settings) -> None:
    if settings.cors_origins:
        from flask_cors import CORS

        # Explicit origins only; no credentials, so never "*" with credentials.
        CORS(app, origins=list(settings.cors_origins), methods=["GET", "POST", "OPTIONS"],
             allow_headers=["Authorization", "Content-Type"], supports_credentials=False, max_age=600)
    if not settings.jwt_required:
        log.warning("CDS_JWT_REQUIRED=false: calls are not authenticated; development only")
        return
    # Only now: PyJWT and the crypto library cost a worker about 10 MB.
    from service.security.client_jwt import AuthenticationError, ClientAuthenticator
    from service.security.issuers import load_trusted_issuers
    from service.security.replay import replay_cache_for

    if not settings.public_base_url:
        log.warning("CDS_PUBLIC_BASE_URL is unset: a JWT's aud must name the address this server listens on "
                    "(never the Host header), so calls through a proxy or a DNS name will get 401. "
                    "Set CDS_PUBLIC_BASE_URL to the URL the EHR calls.")
    issuers = load_trusted_issuers(settings.trusted_issuers_file) if settings.trusted_issuers_file else {}
    if not issuers:
        log.warning("no trusted CDS clients configured (CDS_TRUSTED_ISSUERS_FILE): every call will get 401")
    authenticator = ClientAuthenticator(issuers, replay_cache_for(settings.redis_url, settings.replay_cache_dir))
    app.extensions["cds.authenticator"] = authenticator
    failure_listeners = app.extensions.setdefault("cds.auth_failure_listeners", [])

    @app.before_request
    def _authenticate() -> Response | None:
        if request.method == "OPTIONS" or request.path in PUBLIC_PATHS or request.path.startswith(PAGE_PREFIXES):
            return None  # CORS preflight carries no JWT (CDS Hooks §CORS)
        base = settings.public_base_url or listening_base(request.environ)
        audience = base + request.path
        try:
            g.cds_client = authenticator.authenticate(request.headers.get("Authorization"), audience)
        except AuthenticationError as exc:
            log.warning("authentication failed", extra={"reason": str(exc), "path": request.path})
            for listener in failure_listeners:
                listener(str(exc))
            return _unauthorized()
        return None
