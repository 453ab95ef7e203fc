#!/usr/bin/env bash
# Send one fixture hook request to a running service (the demo's by default):
#   bash scripts/send-hook.sh seed-b [http://localhost:8080]
# The request's dates are shifted to today and fhirServer points at the demo FHIR server.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: send-hook.sh REQUEST_NAME [SERVICE_URL]}
service=${2:-http://localhost:8080}
.venv/bin/python - "$name" "$service" <<'PY'
import json, sys, datetime, requests
from fhir_fixtures import load_request
from fhir_fixtures.server import STATE_FILE
name, service = sys.argv[1], sys.argv[2]
body = load_request(name, datetime.date.today())
if STATE_FILE.exists():
    body["fhirServer"] = json.loads(STATE_FILE.read_text())["base_url"]
sid = {"order-sign": "rituximab-order-sign", "order-select": "rituximab-order-select",
       "patient-view": "rituximab-monitoring"}[body["hook"]]
resp = requests.post(f"{service}/cds-services/{sid}", json=body, timeout=30)
print(json.dumps(resp.json(), indent=2))
PY
