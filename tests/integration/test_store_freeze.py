"""A silent PostgreSQL never stalls a hook, feedback or the health check (defect 3).

The real PostgreSQL sits behind a TCP proxy that freezes: connections stay
open, every byte is acknowledged, nothing is forwarded.  Refused connections
were already handled; this is the case that held worker threads for the
whole freeze.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from service import create_app
from service.store.models import AuditEvent, Feedback
from tests.conftest import make_settings
from tests.integration.stores import pg_schema, pg_url
from tests.integration.test_store_http import seed_request
from tests.tcp_proxy import freezing_proxy

pytestmark = pytest.mark.integration
#: A guard against a hang (the old code waited for the whole freeze), not a timing assertion.
HANG_GUARD_SECONDS = 30
FEEDBACK = "/cds-services/rituximab-order-sign/feedback"


def _feedback() -> dict:
    return {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted",
                          "outcomeTimestamp": "2026-11-23T10:00:00Z", "acceptedSuggestions": [{"id": "s1"}]}]}


def test_frozen_database_gives_503_with_retry_after_and_hooks_still_answer():
    with pg_schema() as schema, freezing_proxy(("127.0.0.1", 5432)) as proxy:
        app = create_app(make_settings(database_url=pg_url(schema, port=proxy.port)))
        store = app.extensions["cds.store"]
        client = app.test_client()
        # Warm the pool through the proxy: the frozen case must cover pooled connections too.
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert all(r.status_code == 200 for r in pool.map(lambda _: client.post(FEEDBACK, json=_feedback()),
                                                                range(6)))
        # Unfreeze before the pool waits for its threads, so a regression fails instead of hanging.
        with ThreadPoolExecutor(max_workers=12) as pool, proxy.frozen():
            calls = [pool.submit(client.post, FEEDBACK, json=_feedback()) for _ in range(12)]
            hook = pool.submit(client.post, "/cds-services/rituximab-order-sign", json=seed_request())
            health = pool.submit(client.get, "/healthz")
            answers = [c.result(timeout=HANG_GUARD_SECONDS) for c in calls]
            assert [a.status_code for a in answers] == [503] * 12
            assert all(a.headers.get("Retry-After") for a in answers)
            assert hook.result(timeout=HANG_GUARD_SECONDS).status_code == 200  # audit is off the request path
            assert health.result(timeout=HANG_GUARD_SECONDS).status_code == 200
        # Recovered: feedback is stored again, and the next hook call is audited.
        ok = client.post(FEEDBACK, json=_feedback())
        assert ok.status_code == 200 and ok.get_json()["stored"] == 1
        assert client.post("/cds-services/rituximab-order-sign", json=seed_request()).status_code == 200
        store.flush(timeout=HANG_GUARD_SECONDS)
        assert store.count(Feedback) == 7
        assert store.count(AuditEvent) >= 1
        store.close()
        store.engine.dispose()
