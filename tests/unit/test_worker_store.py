"""A worker under ``serve`` (``CDS_AUDIT_SOCKET`` set): audit to the writer process, no migration,
feedback through the database on first use; and what such a worker does not load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from fhir_fixtures import load_bundle, load_request
from service import create_app
from service.hooks.prefetch import bundle_to_prefetch
from service.settings import Settings
from service.store.audit import decode_entry
from service.store.audit_channel import AuditListener
from service.store.store import Store, make_engine
from service.store.worker_store import WorkerStore
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def seed_request() -> dict:
    body = load_request("hbv-never-screened")
    body["prefetch"] = bundle_to_prefetch(load_bundle("hbv-never-screened"), "hbv-never-screened")
    return body


def test_the_audit_socket_is_read_from_the_environment():
    assert Settings.from_env({"CDS_AUDIT_SOCKET": "/run/cds/audit.sock"}).audit_socket == "/run/cds/audit.sock"
    assert Settings.from_env({}).audit_socket is None


def test_a_worker_sends_its_audit_to_the_writer_and_leaves_the_schema_alone(tmp_path):
    database = tmp_path / "db.sqlite3"
    socket_path = str(tmp_path / "audit.sock")
    listener = AuditListener(socket_path)
    received: list[bytes] = []
    stop = threading.Event()
    reader = threading.Thread(target=listener.serve, args=(received.append, lambda: not stop.is_set(), 0.05))
    reader.start()
    try:
        app = create_app(make_settings(database_url=f"sqlite:///{database}", audit_socket=socket_path))
        assert isinstance(app.extensions["cds.store"], WorkerStore)
        cards = app.test_client().post("/cds-services/rituximab-order-sign", json=seed_request()).get_json()["cards"]
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        (entry,) = [decode_entry(m) for m in received]
        assert entry.hook_instance == seed_request()["hookInstance"]
        assert [c["uuid"] for c in entry.cards] == [c["uuid"] for c in cards]
        assert app.extensions["cds.store"].audit_failures == 0
    finally:
        stop.set()
        reader.join(5)
        listener.close()
    assert not database.exists()  # no migration, no connection: the master's business


def test_feedback_from_a_worker_reaches_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    Store(make_engine(url)).migrate()  # what the master does before the workers start
    app = create_app(make_settings(database_url=url, audit_socket=str(tmp_path / "no-writer.sock")))
    client = app.test_client()
    card = client.post("/cds-services/rituximab-order-sign", json=seed_request()).get_json()["cards"][0]["uuid"]
    assert app.extensions["cds.store"].audit_failures == 1  # no writer: the row is lost and counted
    resp = client.post("/cds-services/rituximab-order-sign/feedback", data=json.dumps({"feedback": [
        {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}),
        content_type="application/json")
    assert resp.status_code == 200 and resp.get_json() == {"stored": 1, "duplicates": 0}
    assert client.get("/analytics/overrides").status_code == 200


def test_a_worker_with_jwt_off_loads_no_database_jwt_or_migration_library(tmp_path):
    code = ("import json, sys; from service import create_app; create_app(); "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    env = {**os.environ, "CDS_JWT_REQUIRED": "false", "CDS_AUDIT_SOCKET": str(tmp_path / "audit.sock"),
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CDS_LOG_LEVEL": "ERROR"}
    env.pop("CDS_REDIS_URL", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert loaded & {"sqlalchemy", "psycopg", "alembic", "jwt", "cryptography", "joserfc", "authlib", "redis",
                     "jsonschema", "flask_cors"} == set()
    assert {"flask", "service", "cards"} <= loaded  # the check looks at the right process


def test_the_audit_writer_process_runs_without_flask(tmp_path):
    """The writer holds the database libraries once per server; Flask (about 20 MB) has no job there."""
    socket_path = tmp_path / "audit.sock"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "CDS_LOG_LEVEL": "ERROR",
           "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    writer = subprocess.Popen([sys.executable, "-m", "service.store.audit_writer", str(socket_path)], env=env,
                              cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket_path.exists(), "the writer did not start listening"
    finally:
        writer.terminate()
        _, imports = writer.communicate(timeout=30)
    imported = {line.rsplit("|", 1)[-1].strip() for line in imports.splitlines() if line.startswith("import time:")}
    assert {"sqlalchemy", "service.store.store"} <= imported  # the profile covers the writer's imports
    assert not {m for m in imported if m == "flask" or m.startswith(("flask.", "werkzeug", "jinja2"))}
