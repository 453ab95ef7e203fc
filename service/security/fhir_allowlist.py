"""Which FHIR servers the service may call (``CDS_ALLOWED_FHIR_SERVERS``).

A ``fhirServer`` not on the list gets no connection at all: the call is
answered from the prefetch alone (412 if that is not enough).  https is
required except for loopback addresses, so a token never crosses a network
in clear.  Both sides are parsed by :func:`service.fhir.origin.parse_base`,
the parser whose result the HTTP client connects to, and compared as
(scheme, host, port, path): a URL two parsers could read differently is
refused, never matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.fhir.origin import BaseUrl, UnsafeUrl, parse_base

log = logging.getLogger(__name__)


class AllowlistError(ValueError):
    """An entry of CDS_ALLOWED_FHIR_SERVERS is not a usable base URL (start-up fails)."""


def _allowed_scheme(base: BaseUrl) -> bool:
    return base.scheme == "https" or base.is_loopback


def fhir_server_policy(allowed: tuple[str, ...]) -> Callable[[str], bool]:
    """A predicate: may the service call this fhirServer base URL?"""
    any_server = "*" in allowed
    if any_server:
        log.warning("CDS_ALLOWED_FHIR_SERVERS=* lets callers point the service at any FHIR server: "
                    "development only")
    exact: set[BaseUrl] = set()
    for entry in allowed:
        if entry == "*":
            continue
        try:
            exact.add(parse_base(entry))
        except UnsafeUrl as exc:
            raise AllowlistError(f"CDS_ALLOWED_FHIR_SERVERS entry {entry!r} is not a usable base URL: {exc}") from exc

    def allowed_server(url: str) -> bool:
        try:
            base = parse_base(url)
        except UnsafeUrl as exc:
            log.warning("fhirServer refused", extra={"reason": str(exc)})
            return False
        return _allowed_scheme(base) and (any_server or base in exact)

    return allowed_server
