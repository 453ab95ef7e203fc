"""The trusted CDS clients (``CDS_TRUSTED_ISSUERS_FILE``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.fhir.origin import UnsafeUrl, parse_base


class TrustedIssuersError(ValueError):
    """The trusted-issuers file is missing, malformed or names an issuer twice."""


@dataclass(frozen=True)
class TrustedIssuer:
    """One EHR allowed to call the service: its ``iss`` and where its keys are.

    ``jwks`` (inline, pinned) wins over ``jwks_uri`` for keys; ``jwks_uri`` is
    also the only ``jku`` header value accepted.
    """

    iss: str
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None


def _check_jwks_uri(iss: str, jwks_uri: Any) -> None:
    """https, or http on loopback only: keys fetched in clear could be swapped on the way."""
    try:
        base = parse_base(jwks_uri if isinstance(jwks_uri, str) else "")
    except UnsafeUrl as exc:
        raise TrustedIssuersError(f"issuer {iss!r}: jwks_uri must be an http(s) URL ({exc})") from exc
    if base.scheme != "https" and not base.is_loopback:
        raise TrustedIssuersError(f"issuer {iss!r}: jwks_uri must use https (http only on a loopback address)")


def load_trusted_issuers(path: Path) -> dict[str, TrustedIssuer]:
    """Parse the JSON list ``[{"iss":..., "jwks_uri":...} | {"iss":..., "jwks":{...}}]``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustedIssuersError(f"cannot read CDS_TRUSTED_ISSUERS_FILE {path}: {exc}") from exc
    except ValueError as exc:
        raise TrustedIssuersError(f"CDS_TRUSTED_ISSUERS_FILE {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise TrustedIssuersError("CDS_TRUSTED_ISSUERS_FILE must hold a JSON list of issuers")
    issuers: dict[str, TrustedIssuer] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("iss"), str) or not entry["iss"]:
            raise TrustedIssuersError(f"issuer #{i} needs an 'iss' string")
        jwks_uri, jwks = entry.get("jwks_uri"), entry.get("jwks")
        if jwks_uri is None and jwks is None:
            # Both may be given: keys pinned inline (offline), jwks_uri only to check a jku header.
            raise TrustedIssuersError(f"issuer {entry['iss']!r} needs 'jwks_uri' or 'jwks'")
        if jwks_uri is not None:
            _check_jwks_uri(entry["iss"], jwks_uri)
        if jwks is not None and not (isinstance(jwks, dict) and isinstance(jwks.get("keys"), list)):
            raise TrustedIssuersError(f"issuer {entry['iss']!r}: jwks must be a JWK Set with 'keys'")
        if entry["iss"] in issuers:
            raise TrustedIssuersError(f"issuer {entry['iss']!r} is listed twice")
        issuers[entry["iss"]] = TrustedIssuer(entry["iss"], jwks_uri, jwks)
    return issuers
