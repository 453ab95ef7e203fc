"""A real HTTP server on loopback that misbehaves the way EHR FHIR servers do.

The first path segment picks the fault, so ``http://127.0.0.1:PORT/<fault>``
is used as a hook's ``fhirServer``.  Every fault is a real socket behaviour
(a dripping body, a server that never answers, a Bundle whose next link
points at itself), which ``responses`` mocks cannot produce.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.loopback_server import running

OPERATION_OUTCOME = {"resourceType": "OperationOutcome",
                     "issue": [{"severity": "error", "code": "exception", "diagnostics": "injected fault"}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FaultServer

    def log_message(self, *args: Any) -> None:  # quiet test output
        return

    def _send(self, status: int, body: bytes, ctype: str = "application/fhir+json",
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        with self.server.lock:
            self.server.hits += 1
        fault, _, rest = self.path.lstrip("/").partition("/")
        base = f"http://127.0.0.1:{self.server.server_port}/{fault}"
        is_read = "?" not in rest
        try:
            self._fault(fault, base, rest, is_read)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (deadline): expected for slow faults

    def _fault(self, fault: str, base: str, rest: str, is_read: bool) -> None:
        if fault.startswith("status-"):
            code, _, with_outcome = fault[len("status-"):].partition("-")
            body = json.dumps(OPERATION_OUTCOME).encode() if with_outcome == "outcome" else b""
            self._send(int(code), body)
        elif fault == "hang":
            time.sleep(self.server.hang_seconds)
            self._send(200, b"{}")
        elif fault == "slow-drip":
            # Valid headers, then one byte at a time: each read succeeds, the body never ends in time.
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            end = time.monotonic() + self.server.hang_seconds
            while time.monotonic() < end:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        elif fault == "invalid-json":
            self._send(200, b'{"resourceType": "Bundle", "entry": [')
        elif fault == "wrong-type":
            self._send(200, json.dumps({"resourceType": "Practitioner", "id": "x"}).encode())
        elif fault == "html":
            self._send(200, b"<html><body>Login</body></html>", ctype="text/html")
        elif fault == "loop":
            if is_read:
                self._send(404, b"")
                return
            bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [],
                      "link": [{"relation": "next", "url": f"{base}/{rest}"}]}  # next = itself
            self._send(200, json.dumps(bundle).encode())
        elif fault == "oversize":
            filler = {"resourceType": "Bundle", "type": "searchset",
                      "entry": [{"resource": {"resourceType": "Basic", "id": str(i), "note": "x" * 200}}
                                for i in range(self.server.oversize_entries)]}
            self._send(200, json.dumps(filler).encode())
        else:
            self._send(404, json.dumps(OPERATION_OUTCOME).encode())


class _FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    hang_seconds = 3.0
    oversize_entries = 5000
    hits = 0
    lock = threading.Lock()


@contextmanager
def faulty_fhir_server(hang_seconds: float = 3.0) -> Iterator[_FaultServer]:
    """Serve faults on 127.0.0.1 (free port) until the block ends."""
    server = _FaultServer(("127.0.0.1", 0), _Handler)
    server.hang_seconds = hang_seconds
    with running(server):
        yield server


def base_url(server: _FaultServer, fault: str) -> str:
    return f"http://127.0.0.1:{server.server_port}/{fault}"
