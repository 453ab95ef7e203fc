"""Which FHIR servers the service may call (``CDS_ALLOWED_FHIR_SERVERS``).

A ``fhirServer`` not on the list gets no connection at all: the call is
answered from the prefetch alone (412 if that is not enough).  https is
required except for loopback addresses, so a token never crosses a network
in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.fhir.origin import is_loopback, normalize_base

log = logging.getLogger(__name__)


def fhir_server_policy(allowed: tuple[str, ...]) -> Callable[[str], bool]:
    """A predicate: may the service call this fhirServer base URL?"""
    any_server = "*" in allowed
    if any_server:
        log.warning("CDS_ALLOWED_FHIR_SERVERS=* lets callers point the service at any FHIR server: "
                    "development only")
    exact = {normalize_base(u) for u in allowed if u != "*"}

    def allowed_server(url: str) -> bool:
        if not url.lower().startswith("https://") and not (url.lower().startswith("http://") and is_loopback(url)):
            return False
        return any_server or normalize_base(url) in exact

    return allowed_server
