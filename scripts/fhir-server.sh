#!/usr/bin/env bash
# Real FHIR server for the demo: start | load | url | stop (see fhir_fixtures/server.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh
exec .venv/bin/python -m fhir_fixtures.server "$@"
