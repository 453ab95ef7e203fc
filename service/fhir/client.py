"""HTTP client for the EHR's FHIR server.

One ``requests.Session`` (connection pool) per app; each call carries the
hook's bearer token, a per-request timeout that never exceeds the call's
overall deadline, a response size cap, no redirects, no cookies, and paging
that follows ``next`` links only under the FHIR server's base URL, up to a
page cap.  Every request is prepared first and sent only if the prepared URL
(what the HTTP library connects to) lies under ``fhirServer``
(:mod:`service.fhir.origin`): a bad ``next`` link, a path with dot segments
or a base URL with a query gets no connection, so the token goes nowhere else.
Every failure becomes a :class:`FetchResult` with an ``error`` string: a
data problem in the EHR's server must never turn into a 500 to the EHR.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from service.fhir.access import FhirAccess
from service.fhir.origin import BaseUrl, UnsafeUrl, parse_base

_ACCEPT = "application/fhir+json, application/json;q=0.9"


class FetchError(Exception):
    """One FHIR request failed; the message is safe to log (no token, no data)."""


@dataclass
class FetchResult:
    """Resources of one search (all pages) or read, or the reason it failed."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    #: OperationOutcome issues the server reported alongside data (search.mode outcome)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    requests: int = 0
    elapsed_ms: float = 0.0
    error: str | None = None
    truncated: bool = False  # page cap reached, next link off the base URL dropped, or next links loop


class FhirClient:
    """Thread-safe for concurrent GETs (requests' pool; no per-call state on the session)."""

    def __init__(
        self,
        timeout_seconds: float = 2.0,
        page_cap: int = 20,
        max_response_bytes: int = 20 * 1024 * 1024,
        session: requests.Session | None = None,
        pool_size: int = 16,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.page_cap = page_cap
        self.max_response_bytes = max_response_bytes
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.trust_env = False  # never route patient data through an env proxy
        # One session serves every EHR and patient: a cookie one server sets must not ride along elsewhere.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    def _headers(self, access: FhirAccess) -> dict[str, str]:
        headers = {"Accept": _ACCEPT}
        if access.access_token:
            headers["Authorization"] = f"Bearer {access.access_token}"
        return headers

    def get_json(self, access: FhirAccess, url: str, deadline: float) -> dict[str, Any]:
        """GET one URL under ``access.base_url`` and return its JSON object, or raise FetchError."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("deadline exceeded before the request")
        timeout = min(self.timeout_seconds, remaining)
        base = _base(access)
        try:
            prepared = self.session.prepare_request(requests.Request("GET", url, headers=self._headers(access)))
        except (requests.RequestException, ValueError) as exc:
            raise FetchError(f"URL cannot be prepared ({type(exc).__name__})") from exc
        # The check reads the prepared URL, the one the adapter connects to: nothing is re-parsed after it.
        if not prepared.url or not base.contains(prepared.url):
            raise FetchError("URL outside the FHIR server's base URL: not called")
        try:
            with self.session.send(
                prepared,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            ) as resp:
                if resp.is_redirect:
                    raise FetchError(f"HTTP {resp.status_code} redirect not followed")
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code}")
                body = self._read_capped(resp, deadline)
        except requests.Timeout as exc:
            raise FetchError("timeout") from exc
        except requests.ConnectionError as exc:
            raise FetchError("connection failed") from exc
        except requests.RequestException as exc:
            raise FetchError(f"request failed ({type(exc).__name__})") from exc
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError("response is not valid JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            raise FetchError("response is not a FHIR resource")
        return data

    def _read_capped(self, resp: requests.Response, deadline: float) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise FetchError("response larger than the size cap")
        chunks: list[bytes] = []
        size = 0
        raw = resp.raw
        while True:
            # read1 returns what one socket read gives: a server dripping a byte at a
            # time cannot keep this loop from checking the deadline (read() would wait
            # for a whole chunk, each byte resetting the socket timeout).
            chunk = raw.read1(65536, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_response_bytes:
                raise FetchError("response larger than the size cap")
            if time.monotonic() > deadline:
                raise FetchError("deadline exceeded while reading the response")
            chunks.append(chunk)
        return b"".join(chunks)

    def read(self, access: FhirAccess, path: str, expected_type: str, deadline: float) -> FetchResult:
        """Read one resource (e.g. ``Patient/123``); 404 means no data."""
        started = time.monotonic()
        result = FetchResult(requests=1)
        try:
            data = self.get_json(access, _under(access, path), deadline)
            if data.get("resourceType") != expected_type:
                raise FetchError(f"expected {expected_type}, got {data.get('resourceType')}")
            result.resources.append(data)
            result.pages = 1
        except FetchError as exc:
            if str(exc) == "HTTP 404":
                result.pages = 1  # the resource does not exist: no data, not a failure
            else:
                result.error = str(exc)
        result.elapsed_ms = (time.monotonic() - started) * 1000
        return result

    def search(
        self,
        access: FhirAccess,
        path_or_url: str,
        expected_types: tuple[str, ...],
        deadline: float,
        first_page: dict[str, Any] | None = None,
    ) -> FetchResult:
        """All pages of a search; or continue from ``first_page`` (a prefetch Bundle)."""
        started = time.monotonic()
        result = FetchResult()
        url: str | None = (
            None if first_page is not None else _under(access, path_or_url)
        )
        page = first_page
        seen: set[str] = set()
        try:
            while True:
                if page is None:
                    assert url is not None
                    seen.add(url)
                    page = self.get_json(access, url, deadline)
                    result.requests += 1
                if page.get("resourceType") != "Bundle":
                    raise FetchError(f"expected a Bundle, got {page.get('resourceType')}")
                result.pages += 1
                collect_bundle(page, expected_types, result)
                url = next_link(page)
                page = None
                if url is None:
                    break
                if not _base(access).contains(url):
                    result.truncated = True  # never follow a link off the base URL (another host, /admin, ...)
                    break
                if url in seen:
                    result.truncated = True  # a server whose next links loop: what else is missing?
                    break
                if result.pages >= self.page_cap:
                    result.truncated = True
                    break
        except FetchError as exc:
            result.error = str(exc)
        result.elapsed_ms = (time.monotonic() - started) * 1000
        return result


def _base(access: FhirAccess) -> BaseUrl:
    try:
        return parse_base(access.base_url)
    except UnsafeUrl as exc:
        raise FetchError(f"fhirServer refused ({exc})") from exc


def _under(access: FhirAccess, relative: str) -> str:
    """``relative`` (``Patient/1``, ``Condition?patient=1``) appended to the base URL, or an absolute URL as is.

    No ``urljoin``: it would resolve ``../`` itself; the prepared URL is checked instead.
    """
    if relative.startswith(("http://", "https://")):
        return relative
    return f"{access.base_url.rstrip('/')}/{relative.lstrip('/')}"


def next_link(bundle: dict[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def bundle_resources(bundle: dict[str, Any]) -> list[Any]:
    """What a Bundle's entries hold, unchecked (a prefetch's thousands of Observations are read by
    one pass of the caller that sorts out the types, rather than filtered here first)."""
    entries = bundle.get("entry")
    return [e.get("resource") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def collect_bundle(bundle: dict[str, Any], expected_types: tuple[str, ...], into: FetchResult) -> None:
    """Add a Bundle's resources of the expected types; OperationOutcomes are recorded."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("resourceType")
        if rtype == "OperationOutcome":
            into.outcomes.append(resource)
        elif rtype in expected_types:
            into.resources.append(resource)
