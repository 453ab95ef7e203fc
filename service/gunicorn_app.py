"""Run the service under gunicorn from Python (``rituximab-cds serve``).

gunicorn answers some malformed requests itself, before the app sees them
(400 bad request line, 431 header fields too large, 414 URI too long), with
an HTML page.  It has no setting for that, so :func:`json_error` replaces its
error writer in the master before the workers fork: every answer is JSON.
gunicorn has no header or body read timeout; put a buffering proxy in front
(``deploy/nginx/``, docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication


class GunicornService(BaseApplication):  # type: ignore[misc,unused-ignore]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key.lower(), value)

    def load(self) -> Any:
        # Each worker builds its own app (no shared state besides PostgreSQL/Redis).
        from service import create_app

        return create_app()


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, with the service's JSON error body instead of HTML."""
    body = json.dumps({"error": reason.lower().replace(" ", "_"), "message": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def serve(host: str, port: int, workers: int, threads: int = 4, timeout: int = 30) -> None:
    # Metrics of all workers are aggregated through files in this folder; it must be
    # set before any worker imports prometheus_client.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-metrics-")
    # Without Redis the workers share the JWT replay cache through a directory: with one cache per
    # worker, a token refused as a replay by one worker was accepted by the next.
    if not os.environ.get("CDS_REDIS_URL") and not os.environ.get("CDS_REPLAY_CACHE_DIR"):
        os.environ["CDS_REPLAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-replay-")
    gunicorn_util.write_error = json_error  # inherited by every forked worker
    GunicornService(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "timeout": timeout,
            "accesslog": None,  # our own structured log line per request
            "errorlog": "-",
            "keepalive": 5,
            "child_exit": _child_exit,
        }
    ).run()
