"""One URL policy for every outbound FHIR request: base URLs and what lies under them.

The danger is two parsers disagreeing: a check made with ``urllib.parse``
while ``requests`` connects where urllib3's ``parse_url`` says (a backslash
or a userinfo part moves the host between them).  So every URL is parsed
here with urllib3's ``parse_url``, after ``requests`` has prepared it: the
parsed form that is allowed is the very form the HTTP library connects to.
Anything two parsers could read differently is refused rather than guessed:
backslashes, userinfo, control characters and spaces, non-ASCII, encoded
dots, slashes or backslashes in the path, dot segments; and, in a base URL,
a query or fragment (``http://h/fhir?x`` would put every search outside
``/fhir``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Characters whose meaning differs between URL parsers, or that no server should see raw.
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f-\U0010ffff@]")
#: Percent-encoded '.', '/' and '\': a server may decode them into a path escape.
_ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


class UnsafeUrl(ValueError):
    """A URL the service will not call; the message is safe to log (no token)."""


@dataclass(frozen=True)
class BaseUrl:
    """A FHIR base URL as the HTTP library will use it: scheme, host, port, path."""

    scheme: str
    host: str
    port: int
    #: normalised, no trailing slash ("" for the server root)
    path: str

    def __str__(self) -> str:
        netloc = self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    def contains(self, url: str) -> bool:
        """Whether ``url`` (as sent) stays on this server and under this base path."""
        try:
            target = _parse(url)
        except UnsafeUrl:
            return False
        if (target.scheme, target.host, target.port) != (self.scheme, self.host, self.port):
            return False
        return target.path == self.path or target.path.startswith(self.path + "/")


@dataclass(frozen=True)
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str
    query: str | None
    fragment: str | None


def _parse(url: str) -> _Parsed:
    """Parse as ``requests`` + urllib3 will, refusing whatever is ambiguous."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("not a URL")
    if _AMBIGUOUS.search(url):
        raise UnsafeUrl("URL contains a backslash, userinfo, space, control or non-ASCII character")
    # requests resolves "." and ".." before urllib3 sees the path ("/fhir/..//fhir" becomes
    # "//fhir"), so dot segments and empty segments are refused in the URL as written.
    try:
        written_path = urlsplit(url).path
    except ValueError as exc:
        raise UnsafeUrl("URL cannot be parsed (ValueError)") from exc
    if "//" in written_path or any(s in (".", "..") for s in written_path.split("/")):
        raise UnsafeUrl("URL path has dot or empty segments")
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
        parts = parse_url(prepared.url or "")
    except (requests.RequestException, LocationParseError, ValueError) as exc:
        raise UnsafeUrl(f"URL cannot be parsed ({type(exc).__name__})") from exc
    scheme = (parts.scheme or "").lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeUrl("only http and https URLs are called")
    if parts.auth is not None:
        raise UnsafeUrl("URL has a userinfo part")
    if not parts.host:
        raise UnsafeUrl("URL has no host")
    if parts.port == 0:
        raise UnsafeUrl("URL has port 0")
    raw_path = parts.path or ""
    if _ENCODED_SEPARATOR.search(raw_path):
        raise UnsafeUrl("URL path has an encoded '.', '/' or '\\'")
    segments = raw_path.split("/")
    if any(s in (".", "..") for s in segments):
        raise UnsafeUrl("URL path has dot segments")
    # Collapse "//" so "/fhir//x" and "/fhir/x" compare alike; a trailing slash is no new path.
    path = "/".join(s for s in segments if s)
    return _Parsed(
        scheme=scheme,
        host=parts.host.lower(),
        port=_DEFAULT_PORTS[scheme] if parts.port is None else parts.port,
        path=f"/{path}" if path else "",
        query=parts.query,
        fragment=parts.fragment,
    )


def parse_base(url: str) -> BaseUrl:
    """A FHIR base URL, or UnsafeUrl: no query or fragment (they would move every request)."""
    parsed = _parse(url)
    if parsed.query is not None or parsed.fragment is not None or "?" in url or "#" in url:
        raise UnsafeUrl("a FHIR base URL must not have a query or fragment")
    return BaseUrl(parsed.scheme, parsed.host, parsed.port, parsed.path)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    """True for an unambiguous URL whose host is this machine (development servers)."""
    try:
        return is_loopback_host(_parse(url).host)
    except UnsafeUrl:
        return False
