"""SMART App Launch 2.0 client steps: discovery, authorization URL, code exchange, scopes.

OAuth itself is authlib's (``OAuth2Session`` with PKCE S256); this module
adds what SMART asks on top: discovery at ``{iss}/.well-known/smart-configuration``,
``launch`` and ``aud`` on the authorization request, the patient context in
the token response, and scopes limited to what the page reads (patient-level
read of the eight resource types the rules use) plus DocumentReference
create for Save, and ``openid fhirUser`` for the clinician's name on the
letter (:mod:`identity` verifies the id_token).  Nothing here logs, stores or returns a token anywhere but
to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from service.clinical.record import SECTION_OF_TYPE
from service.fhir.origin import is_loopback
from service.web.course_review.errors import (
    AuthorizationDenied,
    DiscoveryError,
    MissingScope,
    TokenExchangeFailed,
)

#: The resource types the rules read (the record's sections): the page reads these and no more.
READ_TYPES: tuple[str, ...] = tuple(SECTION_OF_TYPE)
SAVE_SCOPE = "patient/DocumentReference.c"
IDENTITY_SCOPES = ("openid", "fhirUser")
_TIMEOUT_SECONDS = 5


def requested_scopes(ehr_launch: bool) -> str:
    """Scopes for the authorization request (SMART v2 syntax)."""
    context = "launch" if ehr_launch else "launch/patient"
    reads = [f"patient/{rtype}.rs" for rtype in READ_TYPES]
    return " ".join([context, *reads, SAVE_SCOPE, *IDENTITY_SCOPES])


def _grants(scopes: list[str], rtype: str, wanted: str) -> bool:
    """Does any granted scope allow ``wanted`` (v2 letters, e.g. "rs" or "c") on ``rtype``?

    Accepts v1 (``.read``/``.write``/``.*``) and v2 (``.rs``, ``.cruds``), patient or user level."""
    v1 = {"read": "rs", "write": "cud", "*": "cruds"}
    for scope in scopes:
        level, _, rest = scope.partition("/")
        if level not in ("patient", "user") or "." not in rest:
            continue
        stype, _, perms = rest.partition(".")
        perms = perms.split("?", 1)[0]
        granted = v1.get(perms, perms)
        if stype in ("*", rtype) and all(letter in granted for letter in wanted):
            return True
    return False


def missing_read_scopes(granted: str) -> list[str]:
    scopes = granted.split()
    return [f"patient/{rtype}.rs" for rtype in READ_TYPES if not _grants(scopes, rtype, "rs")]


def can_save(granted: str) -> bool:
    return _grants(granted.split(), "DocumentReference", "c")


@dataclass(frozen=True)
class SmartConfiguration:
    authorization_endpoint: str
    token_endpoint: str
    #: OpenID Connect: who signs id_tokens and where their keys are (None: no identity offered)
    issuer: str | None = None
    jwks_uri: str | None = None


def _usable_endpoint(url: Any) -> bool:
    # A code and a token must never travel in clear except on this machine.
    return isinstance(url, str) and (url.startswith("https://") or (url.startswith("http://") and is_loopback(url)))


def discover(iss: str, session: requests.Session) -> SmartConfiguration:
    """Read and check ``{iss}/.well-known/smart-configuration`` (SMART 2.0 §Discovery)."""
    url = iss.rstrip("/") + "/.well-known/smart-configuration"
    try:
        resp = session.get(url, headers={"Accept": "application/json"}, timeout=_TIMEOUT_SECONDS,
                           allow_redirects=False)
    except requests.RequestException as exc:
        raise DiscoveryError(f"The SMART configuration could not be fetched ({type(exc).__name__}).") from exc
    if resp.status_code != 200:
        raise DiscoveryError(f"The SMART configuration answered HTTP {resp.status_code}.")
    try:
        doc = resp.json()
    except ValueError as exc:
        raise DiscoveryError("The SMART configuration is not JSON.") from exc
    if not isinstance(doc, dict):
        raise DiscoveryError("The SMART configuration is not a JSON object.")
    authorize, token = doc.get("authorization_endpoint"), doc.get("token_endpoint")
    if not (_usable_endpoint(authorize) and _usable_endpoint(token)):
        raise DiscoveryError("The SMART configuration lacks https authorization and token endpoints.")
    methods = doc.get("code_challenge_methods_supported")
    # SMART 2.0: servers SHALL support S256 and advertise it; the app never falls back to plain.
    if not isinstance(methods, list) or "S256" not in methods:
        raise DiscoveryError("The authorization server does not advertise PKCE S256.")
    issuer, jwks_uri = doc.get("issuer"), doc.get("jwks_uri")
    return SmartConfiguration(authorization_endpoint=str(authorize), token_endpoint=str(token),
                              issuer=issuer if isinstance(issuer, str) else None,
                              jwks_uri=jwks_uri if isinstance(jwks_uri, str) else None)


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


def authorization_request(
    config: SmartConfiguration, client_id: str, redirect_uri: str, iss: str, launch: str | None
) -> AuthorizationRequest:
    """The authorization URL with PKCE S256, ``state``, ``aud`` and (EHR launch) ``launch``."""
    # authlib (and, through it, joserfc and the crypto library: about 12 MB) is loaded at the first
    # launch, not by every worker at start.
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    verifier = generate_token(64)  # RFC 7636 §4.1: 43-128 characters
    client = OAuth2Session(client_id, redirect_uri=redirect_uri, scope=requested_scopes(launch is not None),
                           code_challenge_method="S256")
    extra = {"aud": iss, **({"launch": launch} if launch else {})}
    url, state = client.create_authorization_url(
        config.authorization_endpoint, state=generate_token(32), code_verifier=verifier, **extra)
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


@dataclass(frozen=True)
class Grant:
    """What the token response granted.  ``repr`` hides the tokens."""

    access_token: str
    expires_in: int
    scope: str
    patient: str
    app_context: str | None
    #: OpenID Connect id_token, unverified here (identity.verified_fhir_user checks it)
    id_token: str | None = None

    def __repr__(self) -> str:
        return f"Grant(patient={self.patient!r}, scope={self.scope!r}, access_token='***')"


def exchange_code(
    token_endpoint: str, client_id: str, redirect_uri: str, code: str, code_verifier: str,
    requested_scope: str,
) -> Grant:
    """Trade the code (and the PKCE verifier) for a token; check the patient context and scopes."""
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    client = OAuth2Session(client_id, redirect_uri=redirect_uri, code_challenge_method="S256")
    client.trust_env = False  # never route a token through an environment proxy
    try:
        token = client.fetch_token(token_endpoint, grant_type="authorization_code", code=code,
                                   code_verifier=code_verifier, timeout=_TIMEOUT_SECONDS,
                                   allow_redirects=False)
    except OAuthError as exc:
        raise AuthorizationDenied(f"The token endpoint refused the code ({exc.error}).") from exc
    except (requests.RequestException, ValueError) as exc:
        raise TokenExchangeFailed(f"The token request failed ({type(exc).__name__}).") from exc
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenExchangeFailed("The token response carries no access token.")
    if str(token.get("token_type", "")).lower() != "bearer":
        raise TokenExchangeFailed("The token response is not a bearer token.")
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient:
        raise AuthorizationDenied("The EHR gave no patient context with the token.")
    # RFC 6749 §5.1: scope omitted means "as requested".
    scope = token.get("scope") if isinstance(token.get("scope"), str) else requested_scope
    missing = missing_read_scopes(scope)
    if missing:
        raise MissingScope("Not granted: " + ", ".join(missing) + ".")
    expires_in = token.get("expires_in")
    app_context = token.get("appContext")
    return Grant(
        access_token=access_token,
        expires_in=int(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600,
        scope=scope,
        patient=patient,
        app_context=app_context if isinstance(app_context, str) else None,
        id_token=token["id_token"] if isinstance(token.get("id_token"), str) else None,
    )
