"""Trust and safety at the boundary (CDS Hooks 2.0 "Trusting CDS Clients").

Exceptions, in one place::

    AuthenticationError      the caller's JWT is rejected (-> 401; reason logged, never returned)
    TrustedIssuersError      the trusted-issuers file is unusable (start-up fails)
    ReplayCacheUnavailable   the shared replay cache cannot be reached (authentication fails closed)

``install_security(app, settings)`` wires CORS, the JWT check on every call
(except CORS preflight and ``/healthz``), and the request-size limit.

The names below are loaded on first use: with ``CDS_JWT_REQUIRED=false`` nothing loads
PyJWT and the crypto library (about 10 MB per worker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.lazy_names import lazy_names

if TYPE_CHECKING:
    from service.security.client_jwt import AuthenticationError, ClientAuthenticator, VerifiedClient
    from service.security.flask_hooks import install_security
    from service.security.issuers import TrustedIssuer, TrustedIssuersError, load_trusted_issuers
    from service.security.replay import ReplayCacheUnavailable

_HOME = {
    "AuthenticationError": "service.security.client_jwt",
    "ClientAuthenticator": "service.security.client_jwt",
    "VerifiedClient": "service.security.client_jwt",
    "install_security": "service.security.flask_hooks",
    "TrustedIssuer": "service.security.issuers",
    "TrustedIssuersError": "service.security.issuers",
    "load_trusted_issuers": "service.security.issuers",
    "ReplayCacheUnavailable": "service.security.replay",
}

__all__ = [
    "AuthenticationError",
    "ClientAuthenticator",
    "ReplayCacheUnavailable",
    "TrustedIssuer",
    "TrustedIssuersError",
    "VerifiedClient",
    "install_security",
    "load_trusted_issuers",
]

__getattr__ = lazy_names(__name__, _HOME)
