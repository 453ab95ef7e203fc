#!/usr/bin/env bash
# The README's run command: install, start the FHIR server with the fixture
# patients, start the service in development mode, fire the seed hooks and
# print the cards, then leave the service up (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/rituximab-cds demo "$@"
