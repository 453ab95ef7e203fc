#!/usr/bin/env bash
# The README's run command: install, start the FHIR server with the fixture
# patients, start the service (development mode unless CDS_JWT_REQUIRED or
# CDS_TRUSTED_ISSUERS_FILE is set, see README), fire the seed hooks and
# print the cards, then leave the service up (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/rituximab-cds demo "$@"
