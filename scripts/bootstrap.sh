#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv) with the app and its
# dev tools.  Idempotent: reinstalls only when pyproject.toml changed.
# The browser tests drive Debian's Chromium (never a browser download) and the
# necessity-letter PDF uses Debian's DejaVu fonts: both are installed with
# apt-get when missing (the suite runs as root, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: ${missing[*]} missing; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
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
