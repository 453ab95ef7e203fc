"""Run the service under gunicorn from Python (``rituximab-cds serve``)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

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


def serve(host: str, port: int, workers: int, threads: int = 4, timeout: int = 30) -> None:
    # Metrics of all workers are aggregated through files in this folder; it must be
    # set before any worker imports prometheus_client.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rituximab-cds-metrics-")
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
