#!/usr/bin/env bash
# Runs every test: the Python suite (SQLite), and the JavaScript client's node tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== pytest (SQLite) =="
$PY -m pytest -q -p no:cacheprovider "$@"

if [ -d tests/js ] && command -v node >/dev/null; then
  echo "== node --test tests/js =="
  node --test tests/js/
fi
