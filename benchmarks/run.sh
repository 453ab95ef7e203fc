#!/usr/bin/env bash
# The README's benchmark command: bash benchmarks/run.sh [--quick] [--seconds N] [--profile FILE]
# Installs the project and wrk (Debian package) if needed, makes sure PostgreSQL is up,
# then prints the tables described in benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/services.sh
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package) for the load generator" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q wrk >/dev/null; else sudo apt-get install -y -q wrk >/dev/null; fi
fi
exec .venv/bin/python -m benchmarks.run "$@"
