"""Timestamps of every request inside a gunicorn gthread worker, written to a side file (not the log).

Installed in the server's master before it forks (``benchmarks.trace`` does it
through ``procs.gunicorn(setup=...)``): it wraps the gthread worker's hand-over
of a connection to its thread pool and the pool thread's handling of it, and
the WSGI app, and records per request (``perf_counter``, the same clock in
every process of the machine):

    enqueued     the main thread hands the readable connection to the pool
    started      a pool thread picks it up
    app_start    the WSGI app is called (request line and headers read)
    app_end      the app returned its response
    done         the response is written (and the access hooks ran)
    handle_cpu   CPU time of the pool thread in between started and done
    app_cpu      of which in the app

and every garbage collection (start, end, generation).  Rows go to
``$TRACE_DIR/req-<pid>.tsv`` and ``gc-<pid>.tsv`` every ``FLUSH_ROWS`` requests
and when the worker exits.
"""

from __future__ import annotations

import gc
import importlib
import os
import threading
from collections.abc import Callable
from time import perf_counter, thread_time
from typing import Any

#: rows kept in memory before they are appended to the side file
FLUSH_ROWS = 200
_rows: list[tuple[float, ...]] = []
_gcs: list[tuple[float, float, int]] = []
_lock = threading.Lock()
_local = threading.local()
_gc_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = perf_counter()
    else:
        _gcs.append((_gc_started[0], perf_counter(), info["generation"]))


def dump() -> None:
    """Append what was recorded so far to this process's side files."""
    out = os.environ["TRACE_DIR"]
    with _lock:
        rows, _rows[:] = list(_rows), []
        gcs, _gcs[:] = list(_gcs), []
    with open(f"{out}/req-{os.getpid()}.tsv", "a") as f:
        f.writelines("\t".join(f"{x:.6f}" for x in row) + "\n" for row in rows)
    with open(f"{out}/gc-{os.getpid()}.tsv", "a") as f:
        f.writelines(f"{a:.6f}\t{b:.6f}\t{g}\n" for a, b, g in gcs)


def _traced_wsgi(app: Any) -> Any:
    gc.callbacks.append(_on_gc)
    inner = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started, cpu = perf_counter(), thread_time()
        try:
            return inner(environ, start_response)
        finally:
            _local.app = (started, perf_counter(), thread_time() - cpu)

    app.wsgi_app = wsgi_app
    return app


def install(app_module: str = "service", attribute: str = "create_app") -> None:
    """Trace the workers of the server this process is about to start.  ``attribute`` of
    ``app_module`` is the app's factory (called by the worker) or the Flask app itself."""
    import atexit

    from gunicorn.workers import gthread

    atexit.register(dump)  # inherited by the forked workers: what is left is written when one exits
    module = importlib.import_module(app_module)
    target = getattr(module, attribute)
    if hasattr(target, "wsgi_app"):
        _traced_wsgi(target)
    else:
        setattr(module, attribute, lambda *a, **k: _traced_wsgi(target(*a, **k)))
    enqueue, handle = gthread.ThreadWorker.enqueue_req, gthread.ThreadWorker.handle

    def traced_enqueue(self: Any, conn: Any) -> Any:
        conn.trace_enqueued = perf_counter()
        return enqueue(self, conn)

    def traced_handle(self: Any, conn: Any) -> Any:
        _local.app = None
        started, cpu = perf_counter(), thread_time()
        result = handle(self, conn)
        done = perf_counter()
        app = _local.app
        if app is not None:
            with _lock:
                _rows.append((getattr(conn, "trace_enqueued", started), started, app[0], app[1], done,
                              thread_time() - cpu, app[2]))
                full = len(_rows) >= FLUSH_ROWS
            if full:
                dump()
        return result

    gthread.ThreadWorker.enqueue_req = traced_enqueue
    gthread.ThreadWorker.handle = traced_handle
