#!/usr/bin/env bash
# Runs every test (what `make test` and CI run): the passes and checks that
# scripts/test-matrix.toml declares, run by scripts/run_matrix.py (see both for which tests
# run where). Extra arguments go to every pytest pass and skip the checks, e.g.
# `scripts/test.sh -x tests/core/test_smoke.py`. The closing line is
# "total: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/run_matrix.py "$@"
