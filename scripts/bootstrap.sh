#!/usr/bin/env bash
# Create/refresh the project's virtual environment (.venv) with the app and its
# dev tools.  Idempotent: reinstalls only when pyproject.toml changed.
# The necessity-letter PDF uses Debian's DejaVu fonts (installed when missing).
#   --with-browser   also install Debian's Chromium for the Playwright tests (never a browser download)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
missing=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "${1:-}" = "--with-browser" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
