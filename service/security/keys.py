"""Signing keys of trusted issuers: inline JWK Sets, or fetched from ``jwks_uri``.

Fetched sets are cached; an unknown ``kid`` triggers one refresh (key
rotation without a restart), at most once per ``min_refresh_seconds`` per
issuer so a flood of bogus kids cannot turn the service into a JWKS fetcher.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
import requests

from service.security.issuers import TrustedIssuer


class KeyLookupError(Exception):
    """No usable key for this issuer and kid (the message is safe to log)."""


def _key_set(data: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeyLookupError("JWKS is not a JWK Set")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or not jwk.get("kid"):
            continue
        try:
            keys[str(jwk["kid"])] = jwt.PyJWK.from_dict(jwk)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # one unusable key must not disable the others
    return keys


class KeyResolver:
    def __init__(
        self,
        issuers: dict[str, TrustedIssuer],
        timeout_seconds: float = 3.0,
        max_age_seconds: float = 3600.0,
        min_refresh_seconds: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.issuers = issuers
        self.timeout = timeout_seconds
        self.max_age = max_age_seconds
        self.min_refresh = min_refresh_seconds
        self.session = session or requests.Session()
        self.session.trust_env = False
        self._cache: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}
        self._lock = threading.Lock()

    def _fetch(self, issuer: TrustedIssuer) -> dict[str, jwt.PyJWK]:
        assert issuer.jwks_uri
        try:
            resp = self.session.get(issuer.jwks_uri, timeout=self.timeout, allow_redirects=False)
            resp.raise_for_status()
            keys = _key_set(resp.json())
        except (requests.RequestException, ValueError) as exc:
            raise KeyLookupError(f"JWKS fetch failed for {issuer.iss} ({type(exc).__name__})") from exc
        with self._lock:
            self._cache[issuer.iss] = (time.monotonic(), keys)
        return keys

    def key(self, iss: str, kid: str) -> jwt.PyJWK:
        issuer = self.issuers[iss]
        if issuer.jwks is not None:
            keys = _key_set(issuer.jwks)
            if kid in keys:
                return keys[kid]
            raise KeyLookupError(f"unknown kid for {iss}")
        with self._lock:
            cached = self._cache.get(iss)
        now = time.monotonic()
        if cached is None or now - cached[0] > self.max_age:
            keys = self._fetch(issuer)
        else:
            keys = cached[1]
            if kid not in keys and now - cached[0] >= self.min_refresh:
                keys = self._fetch(issuer)  # rotation: refresh once on an unknown kid
        if kid not in keys:
            raise KeyLookupError(f"unknown kid for {iss}")
        return keys[kid]
