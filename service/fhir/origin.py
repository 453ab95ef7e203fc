"""Which FHIR servers the service may call, and same-origin checks for links."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with defaults filled in, lower-cased."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def is_loopback(url: str) -> bool:
    host = origin(url)[1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base(url: str) -> str:
    scheme, host, port = origin(url)
    path = urlsplit(url).path.rstrip("/")
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"
