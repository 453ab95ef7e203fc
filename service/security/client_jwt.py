"""Verify the CDS client's JWT (CDS Hooks 2.0 §Trusting CDS Clients, §JWT Signing Algorithm).

Checks, in order: Bearer token present; header ``alg`` asymmetric (RS/PS/ES
256/384/512: never ``none`` or HS*), ``kid`` present, ``jku`` (if any) equal
to the issuer's configured ``jwks_uri``; ``iss`` trusted; signature with the
issuer's key; ``aud`` equal to the URL called; ``exp`` in the future and not
too far; ``iat`` not in the future; ``jti`` present and never seen before
within the token's lifetime.  Every failure is an AuthenticationError whose
reason is for the log only.
"""

from __future__ import annotations

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
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthenticationError("missing bearer token")
        token = authorization[len("Bearer "):].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"malformed token ({type(exc).__name__})") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthenticationError(f"algorithm {alg!r} not allowed")
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
