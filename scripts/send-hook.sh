#!/usr/bin/env bash
# Send one fixture hook request to a running service (the demo's by default) and print the response:
#   bash scripts/send-hook.sh seed-b [http://127.0.0.1:8080]
# The request's dates are shifted to today and its prefetch is filled from the fixture patient
# (`rituximab-cds request`), so it needs no FHIR server; it is what curl would send.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: send-hook.sh REQUEST_NAME [SERVICE_URL]}
service=${2:-http://127.0.0.1:8080}
body=$(mktemp)
trap 'rm -f "$body"' EXIT
path=$(.venv/bin/rituximab-cds request "$name" 2>&1 >"$body" | sed -n 's/^POST //p')
curl -sS -H 'Content-Type: application/json' --data-binary @"$body" "$service$path"
echo
