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
import logging
import os
import secrets
import tempfile
from collections.abc import MutableMapping
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


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


def share_between_workers(env: MutableMapping[str, str]) -> None:
    """What the workers of one ``serve`` must share, set in the master before they fork."""
    # Metrics of all workers are aggregated through files in this folder; it must be
    # set before any worker imports prometheus_client.
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-metrics-")
    # Without Redis the workers share the JWT replay cache (and the course-review sessions) through
    # a directory: with one cache per worker, a token refused as a replay by one worker was accepted
    # by the next.
    if not env.get("CDS_REDIS_URL") and not env.get("CDS_REPLAY_CACHE_DIR"):
        env["CDS_REPLAY_CACHE_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-replay-")
    # One course-review cookie key for every worker: with a key per worker, a launch signed by one
    # worker was refused by the next.  Set CDS_APP_SECRET_KEY so sessions also survive a restart.
    if not env.get("CDS_APP_SECRET_KEY"):
        env["CDS_APP_SECRET_KEY"] = secrets.token_urlsafe(32)
        log.warning("CDS_APP_SECRET_KEY is not set: course-review sessions use a key made for this run "
                    "(shared by its workers; they end at restart)")


def serve(host: str, port: int, workers: int, threads: int = 4, timeout: int = 30) -> None:
    share_between_workers(os.environ)
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
