"""Rituximab CDS Hooks service.

``create_app(settings=None)`` builds the Flask application; nothing happens
at import time (no environment reads, no connections, no threads).
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from service.settings import Settings

if TYPE_CHECKING:  # importing any service module must not load Flask (the audit writer process has none)
    from flask import Flask

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the service.  ``settings`` defaults to :meth:`Settings.from_env`."""
    from flask import Flask

    from service.clinical.policy import Policy
    from service.fhir.client import FhirClient
    from service.hooks.invoke import HookRuntime
    from service.http.api import bp
    from service.http.errors import install_error_handlers
    from service.http.openapi import bp as openapi_bp
    from service.http.store_hooks import install_store
    from service.logging_setup import configure_logging, install_request_logging, log_configuration
    from service.metrics import install_metrics
    from service.security import install_security
    from service.security.fhir_allowlist import fhir_server_policy
    from service.web.course_review import install as install_course_review
    from service.web.playground import install_playground

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config["CDS_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.extensions["cds.settings"] = settings
    app.extensions["cds.runtime"] = HookRuntime(
        client=FhirClient(
            timeout_seconds=settings.fhir_timeout_seconds,
            page_cap=settings.fhir_page_cap,
            max_response_bytes=settings.fhir_max_response_bytes,
        ),
        executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="fhir"),
        policy=Policy(tb_screening=settings.tb_screening,
                      prefer_biosimilar=settings.prefer_biosimilar),
        deadline_seconds=settings.fhir_deadline_seconds,
        fhir_allowed=fhir_server_policy(settings.allowed_fhir_servers),
    )
    app.extensions["cds.invocation_listeners"] = []
    install_request_logging(app)
    install_security(app, settings)
    authenticator = app.extensions.get("cds.authenticator")
    log_configuration(settings, sorted(authenticator.issuers) if authenticator else [])
    install_store(app, settings)
    install_metrics(app)
    app.register_blueprint(bp)
    app.register_blueprint(openapi_bp)
    install_playground(app, settings)
    install_course_review(app, settings)
    install_error_handlers(app)
    _tune_garbage_collector()
    return app


_tuned = False

#: Container objects allocated (net of those freed) before a young collection; CPython's default is 700.
YOUNG_COLLECTION_THRESHOLD = 50_000


def _tune_garbage_collector() -> None:
    """Once per process: keep what start-up built (modules, knowledge data, the app) out of the
    collector's walks, and collect the young generation after 50,000 net allocations, not 700.

    A worker holds about 137,000 start-up objects, and every full collection walked them all:
    with the heavy chart's 1.2 MB bodies (100,000 new objects a call) the in-process p95 was
    about 140 ms, and about 55 ms with them frozen.  A call's objects are freed by reference
    counting when it ends, but at 700 the collector still ran mid-call on them (the heavy
    chart: 33 collections per call, 42 ms of the call; seeds: one every 8 calls) and promoted
    the live ones to older generations for longer walks later.  At 50,000 a seed call never
    reaches it, nor did 30 heavy calls (benchmarks/gc_pauses.py, benchmarks/RESULTS.md).  The
    price is memory: a call leaves 8 objects in reference cycles (werkzeug's URL matcher), and
    they now wait about 6,000 calls for a collection: +4.4 MB RSS in process after 12,000 calls
    (20,000: +1.8 MB, but about one collection per heavy call, each over the live body, and
    the heavy call's collector time no better than at 700).  The older generations keep their
    defaults."""
    global _tuned
    if not _tuned:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
        _tuned = True


