#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv) with the app and its
# dev tools.  Idempotent: reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
