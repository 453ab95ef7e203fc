"""Who signed in: the id_token's ``fhirUser``, verified, and that user's name for the letter.

SMART App Launch 2.0 (§Scopes for requesting identity data): with the scopes
``openid fhirUser`` the token response carries an OpenID Connect id_token
whose ``fhirUser`` claim is the URL of the user's FHIR resource
(Practitioner, ...).  The id_token is verified with joserfc (authlib's JOSE
library, which ``authlib.jose`` now defers to) against the authorization
server's JWKS (``jwks_uri`` of the SMART configuration):
signature with an asymmetric algorithm, ``iss`` equal to the configuration's
``issuer``, ``aud`` the client id, ``exp`` in the future (OpenID Connect Core
§3.1.3.7).  Anything short of that keeps the letter's blank signature line:
the name is a convenience on a printed page, never a reason to refuse the
review.  Nothing here logs the id_token or the claims.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import requests

from service.fhir.access import FhirAccess
from service.fhir.client import FhirClient
from service.fhir.origin import is_loopback

log = logging.getLogger(__name__)

#: Asymmetric only: an HMAC id_token would be signed with a secret a public client does not have.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]
_USER = re.compile(r"(Practitioner|PractitionerRole|Person|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}")
_TIMEOUT_SECONDS = 5


def _usable(url: Any) -> bool:
    return isinstance(url, str) and (url.startswith("https://") or (url.startswith("http://") and is_loopback(url)))


def verified_fhir_user(id_token: Any, issuer: str | None, jwks_uri: str | None, client_id: str,
                       http: requests.Session) -> str | None:
    """The ``fhirUser`` claim of a verified id_token, or None (absent, unverifiable or invalid)."""
    if not isinstance(id_token, str) or not issuer or not _usable(jwks_uri):
        return None
    # Loaded at the first sign-in, not by every worker at start: joserfc and its crypto library
    # are about 11 MB per worker.
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        resp = http.get(str(jwks_uri), headers={"Accept": "application/json"}, timeout=_TIMEOUT_SECONDS,
                        allow_redirects=False)
        resp.raise_for_status()
        keys = KeySet.import_key_set(resp.json())
        claims = jwt.decode(id_token, keys, algorithms=ALGORITHMS).claims
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
    except (requests.RequestException, ValueError, TypeError, KeyError, JoseError) as exc:
        # The reason's class only: the token and its claims stay out of the log.
        log.info("id_token not accepted; the letter keeps a blank signature line",
                 extra={"reason": type(exc).__name__})
        return None
    fhir_user = claims.get("fhirUser")
    return fhir_user if isinstance(fhir_user, str) else None


def user_path(fhir_user: str, iss: str) -> str | None:
    """``Practitioner/123`` for a fhirUser on this FHIR server (absolute under ``iss``, or relative)."""
    base = iss.rstrip("/") + "/"
    relative = fhir_user[len(base):] if fhir_user.startswith(base) else fhir_user
    return relative if _USER.fullmatch(relative) else None


def display_name(resource: dict[str, Any]) -> str | None:
    """The official (else first) HumanName as "Dr Ana Ortiz": its text, else prefix, given and family."""
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if name is None:
        return None
    if isinstance(name.get("text"), str) and name["text"].strip():
        return str(name["text"]).strip()
    parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", ""), *name.get("suffix", [])]
    text = " ".join(p for p in parts if isinstance(p, str) and p).strip()
    return text or None


def clinician_name(client: FhirClient, access: FhirAccess, fhir_user: str) -> str | None:
    """Read the signed-in user's resource from the FHIR server; None if it cannot be read."""
    path = user_path(fhir_user, access.base_url)
    if path is None:
        return None
    result = client.read(access, path, path.split("/")[0], time.monotonic() + _TIMEOUT_SECONDS)
    return display_name(result.resources[0]) if result.resources else None
