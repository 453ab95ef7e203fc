"""Trust and safety at the boundary (CDS Hooks 2.0 "Trusting CDS Clients").

Exceptions, in one place::

    AuthenticationError      the caller's JWT is rejected (-> 401; reason logged, never returned)
    TrustedIssuersError      the trusted-issuers file is unusable (start-up fails)
    ReplayCacheUnavailable   the shared replay cache cannot be reached (authentication fails closed)

``install_security(app, settings)`` wires CORS, the JWT check on every call
(except CORS preflight and ``/healthz``), and the request-size limit.
"""

from service.security.client_jwt import AuthenticationError, ClientAuthenticator, VerifiedClient
from service.security.flask_hooks import install_security
from service.security.issuers import TrustedIssuer, TrustedIssuersError, load_trusted_issuers
from service.security.replay import ReplayCacheUnavailable

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
