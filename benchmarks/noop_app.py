"""The baseline: a Flask app that reads and parses the same request bodies and does nothing.

Served by gunicorn with exactly the service's worker settings, so every
figure of the service can be read as a ratio to this one on the same machine.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def invoke(service_id: str):  # type: ignore[no-untyped-def]
    request.get_json(force=True)  # the service parses the body too; so must the baseline
    return jsonify({"cards": []})


@app.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})
