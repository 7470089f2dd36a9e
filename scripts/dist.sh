#!/usr/bin/env bash
# `make dist`: the release files in dist/ — the sdist and the wheel of the Python package
# (built offline with the setuptools of .venv, no download), the npm tarball of the JavaScript
# client (@authgate/client, the files the app serves), and SHA256SUMS over all three.
# Verify with `cd dist && sha256sum -c SHA256SUMS`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DIST=${DIST:-dist}
rm -rf "$DIST" build
mkdir -p "$DIST"
"$PY" -m build --no-isolation --sdist --wheel --outdir "$DIST" . >/dev/null
rm -rf build
if ! command -v npm >/dev/null; then
  echo "dist.sh: npm is not installed: the npm tarball cannot be built." >&2
  exit 1
fi
npm pack ./src/authgate/static/authgate --pack-destination "$DIST" --silent >/dev/null
(cd "$DIST" && sha256sum -- *.tar.gz *.whl *.tgz > SHA256SUMS)
echo "$DIST/:"
(cd "$DIST" && ls -1 && echo && cat SHA256SUMS)
