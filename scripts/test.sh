#!/usr/bin/env bash
# The README's test command: install everything, start what the tests need,
# run the whole suite (unit + integration against a real FHIR server,
# PostgreSQL and Redis).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --with-browser
bash scripts/services.sh
exec .venv/bin/python -m pytest "$@"
