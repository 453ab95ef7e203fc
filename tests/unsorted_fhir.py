"""A FHIR server that ignores ``_sort`` and ``_count``: the real one behind a rewriting proxy.

Searches are answered by the real FHIR server (sekmet-fhir), so every other
search parameter keeps its real meaning; the proxy drops ``_sort``, imposes
its own small page size whatever ``_count`` asked for, lists each page's
entries in reverse, and rewrites the links so paging comes back through it.
That is how a server that honours neither parameter looks to a client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from tests.loopback_server import running


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnsortedServer

    def log_message(self, *args: Any) -> None:  # quiet test output
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("_sort", "_count")]
        if parts.query or "?" in self.path:
            params.append(("_count", str(self.server.page_size)))
        upstream = self.server.upstream + parts.path + ("?" + urlencode(params) if params else "")
        with self.server.lock:
            self.server.seen.append(self.path)
        resp = requests.get(upstream, headers={"Accept": "application/fhir+json"}, timeout=10)
        body = resp.content
        if resp.headers.get("Content-Type", "").startswith("application/fhir+json") and resp.ok:
            data = json.loads(body)
            if data.get("resourceType") == "Bundle":
                data["entry"] = list(reversed(data.get("entry") or []))
                for link in data.get("link") or []:
                    link["url"] = link["url"].replace(self.server.upstream, self.server.base_url)
                body = json.dumps(data).encode()
        self.send_response(resp.status_code)
        self.send_header("Content-Type", resp.headers.get("Content-Type", "application/fhir+json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _UnsortedServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream = ""
    page_size = 4
    lock = threading.Lock()

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@contextmanager
def unsorted_fhir_server(upstream_base: str, page_size: int = 4) -> Iterator[_UnsortedServer]:
    """Serve ``upstream_base`` (a FHIR base URL) with _sort and _count ignored."""
    server = _UnsortedServer(("127.0.0.1", 0), _Handler)
    split = urlsplit(upstream_base)
    server.upstream = f"{split.scheme}://{split.netloc}"
    server.page_size = page_size
    with running(server):
        yield server


def proxied_base(server: _UnsortedServer, upstream_base: str) -> str:
    """The proxy's URL for the upstream FHIR base (same path)."""
    return server.base_url + urlsplit(upstream_base).path
