"""The FHIR server and token a hook call hands us."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FhirAccess:
    """fhirServer and fhirAuthorization.access_token of one hook call.

    The token is transient (CDS Hooks best practices): never stored, never
    logged; ``repr`` hides it so a stray log line cannot leak it.
    """

    base_url: str
    access_token: str | None = None

    def __repr__(self) -> str:
        return f"FhirAccess(base_url={self.base_url!r}, access_token={'***' if self.access_token else None})"
