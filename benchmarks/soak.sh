#!/usr/bin/env bash
# The README's soak command: bash benchmarks/soak.sh [--seconds 90] [--workers 3] [--clients 8]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh
exec .venv/bin/python -m benchmarks.soak "$@"
