"""Serve a Flask app on a real loopback port in a thread (real HTTP, no gunicorn): tests and the demo's launcher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    # No access log: its lines would land between the demo's output and the benchmark tables, and
    # the launcher's URLs carry PKCE challenges and launch ids.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@contextmanager
def serve_in_thread(app: Flask) -> Iterator[str]:
    """Yield the base URL of ``app`` served on 127.0.0.1 (free port)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
