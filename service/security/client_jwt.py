"""Verify the CDS client's JWT (CDS Hooks 2.0 §Trusting CDS Clients, §JWT Signing Algorithm).

Checks, in order: Bearer token present (the scheme matched case-insensitively,
RFC 6750 §2.1 / RFC 9110 §11.1); ``exp``, ``iat`` and ``nbf`` (if any) finite
numbers; header ``alg`` asymmetric (RS/PS/ES
256/384/512: never ``none`` or HS*), ``kid`` present, ``jku`` (if any) equal
to the issuer's configured ``jwks_uri``; ``iss`` trusted; signature with the
issuer's key; ``aud`` equal to the URL called; ``exp`` in the future and not
too far; ``iat`` not in the future; ``jti`` present and never seen before
within the token's lifetime.  Every failure is an AuthenticationError whose
reason is for the log only, including errors PyJWT or the crypto library
raise outside their own exception family (a header claiming RS256 over an EC
key raises TypeError): a forged token is a 401, never a 500.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from service.security.issuers import TrustedIssuer
from service.security.keys import KeyLookupError, KeyResolver
from service.security.replay import ReplayCache, ReplayCacheUnavailable

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
CLOCK_SKEW_SECONDS = 60
MAX_LIFETIME_SECONDS = 3600  # best practice: replay cache <= 1 h, so no longer-lived tokens
#: JWK key type each algorithm family needs (RFC 7518 §3.1): checked before PyJWT sees the pair.
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
#: Largest magnitude accepted for a NumericDate: exact in a float, far beyond any real expiry.
_MAX_NUMERIC_DATE = 2**53


def _numeric_date(claims: dict[str, object], name: str) -> None:
    """RFC 7519 §2 NumericDate: a JSON number, finite; not a string, bool, list or 10**400."""
    if name not in claims:
        return
    value = claims[name]
    if type(value) not in (int, float) or not math.isfinite(value) or abs(value) > _MAX_NUMERIC_DATE:  # type: ignore[arg-type]
        raise AuthenticationError(f"{name} is not a finite number")


class AuthenticationError(Exception):
    """The JWT is rejected; ``str(exc)`` is a reason safe to log (never the token)."""


@dataclass(frozen=True)
class VerifiedClient:
    iss: str
    jti: str
    tenant: str | None
    expires_at: float


class ClientAuthenticator:
    def __init__(
        self,
        issuers: dict[str, TrustedIssuer],
        replay_cache: ReplayCache,
        keys: KeyResolver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = issuers
        self.replay = replay_cache
        self.keys = keys or KeyResolver(issuers)
        self.clock = clock

    def authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        try:
            return self._authenticate(authorization, audience)
        except AuthenticationError:
            raise
        except Exception as exc:  # noqa: BLE001 - any library error on a hostile token is a rejection
            raise AuthenticationError(f"token rejected ({type(exc).__name__})") from exc

    def _authenticate(self, authorization: str | None, audience: str) -> VerifiedClient:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("missing bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"malformed token ({type(exc).__name__})") from exc
        if not isinstance(header, dict) or not isinstance(unverified, dict):
            raise AuthenticationError("malformed token")
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthenticationError(f"algorithm {alg!r} not allowed")
        for claim in ("exp", "iat", "nbf"):
            _numeric_date(unverified, claim)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("kid missing")
        iss = unverified.get("iss")
        if not isinstance(iss, str) or iss not in self.issuers:
            raise AuthenticationError("issuer not trusted")
        issuer = self.issuers[iss]
        jku = header.get("jku")
        if jku is not None and jku != issuer.jwks_uri:
            raise AuthenticationError("jku does not match the issuer's configured jwks_uri")
        try:
            key = self.keys.key(iss, kid)
        except KeyLookupError as exc:
            raise AuthenticationError(str(exc)) from exc
        if key.key_type != _KEY_TYPE[alg[:2]]:
            raise AuthenticationError(f"algorithm {alg} does not fit a {key.key_type} key")
        now = self.clock()
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_iat": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationError(f"required claim missing ({exc.claim})") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthenticationError("aud does not match the URL called") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token ({type(exc).__name__})") from exc
        exp, iat = float(claims["exp"]), float(claims["iat"])
        if iat > now + CLOCK_SKEW_SECONDS:
            raise AuthenticationError("iat in the future")
        if exp > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
            raise AuthenticationError("exp too far in the future")
        if exp < now - CLOCK_SKEW_SECONDS:
            raise AuthenticationError("token expired")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthenticationError("jti missing")
        try:
            if not self.replay.first_use(iss, jti, exp + CLOCK_SKEW_SECONDS):
                raise AuthenticationError("jti replayed")
        except ReplayCacheUnavailable as exc:
            raise AuthenticationError(f"replay cache unavailable ({exc})") from exc
        tenant = claims.get("tenant")
        return VerifiedClient(iss=iss, jti=jti, tenant=tenant if isinstance(tenant, str) else None, expires_at=exp)
