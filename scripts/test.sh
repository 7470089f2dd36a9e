#!/usr/bin/env bash
# Runs every test (what `make test` and CI run), in passes:
#   1. pytest on SQLite (the embedded default): everything, browser tests included;
#   2. pytest on PostgreSQL (DATABASE_URL): the suite again (less browser and fuzz tests),
#      plus `postgres` tests;
#   3. pytest on PostgreSQL + Redis (REDIS_URL: revocation store and cache): the same again,
#      plus `redis` tests and the `multiprocess` gunicorn tests;
#   4. node --test tests/js (the JavaScript client);
#   5. mkdocs build --strict (the docs site; tests/test_docs.py runs its samples in pass 1);
#   6. quality: `ruff check` (lint), `ruff format --check` and `mypy` (types of the package), configured in
#      pyproject.toml; an error fails the run.
# Browser tests run in pass 1 only. Under CI=true PostgreSQL and Redis are started if
# needed and must answer (scripts/services.sh); elsewhere a missing service skips its pass,
# and the tests that need it show as skipped with the reason. Extra arguments go to every
# pytest pass (e.g. `scripts/test.sh -x tests/test_smoke.py`).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
POSTGRES_URL=${AUTHGATE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/authgate}
REDIS_URL_FOR_TESTS=${AUTHGATE_TEST_REDIS_PASS_URL:-redis://127.0.0.1:6379/15}
# Run once, in the SQLite pass: input fuzzing (hypothesis/schemathesis) exercises request
# parsing and the error contract, not the database, and would double the later passes.
# Likewise the docs' samples (a new project on its own SQLite database), the npm package and
# the wheel (built and run without the extras, whatever the pass's database), and the allauth
# project (its own SQLite database).
ONCE=(--ignore=tests/test_security_fuzz.py --ignore=tests/test_docs.py --ignore=tests/test_js_package.py --ignore=tests/test_package.py --ignore=tests/adapters/test_allauth.py)
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/authgate-test.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

started=$SECONDS
summary=()
failed=0
total_passed=0 total_failed=0 total_skipped=0

count() {  # "<n> <word>" out of a runner's closing line
  grep -oE "[0-9]+ $1" <<<"$2" | tail -1 | grep -oE "^[0-9]+" || echo 0
}

run_pytest() {  # name, marker expression, then `env` arguments (VAR=value, -u VAR) -- pytest args
  local name=$1 expr=$2
  shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local log="$LOG_DIR/$name.log" pass_start=$SECONDS rc
  echo
  echo "== pytest ($name) -m '$expr' =="
  env "${envs[@]}" "$PY" -m pytest -q -p no:cacheprovider -m "$expr" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 5 ] && rc=0  # nothing selected (e.g. arguments naming one file): not a failure
  local last
  last=$(grep -E "(passed|failed|skipped|error|no tests ran|deselected)" "$log" | tail -1)
  local p f e s
  p=$(count passed "$last"); f=$(count failed "$last"); e=$(count error "$last"); s=$(count skipped "$last")
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f + e)); total_skipped=$((total_skipped + s))
  summary+=("$(printf '%-22s %4s passed %3s failed %3s skipped  %4ss  exit %s' "$name" "$p" "$((f + e))" "$s" "$((SECONDS - pass_start))" "$rc")")
  [ "$rc" -ne 0 ] && failed=1
  return 0
}

# -- what this machine needs -------------------------------------------------------------
bash scripts/ensure-chromium.sh || failed=1
if [ "${CI:-}" = "true" ]; then
  # CI promises the services: start them if needed; unreachable is a failure, not a skip.
  bash scripts/services.sh ensure || { echo "test.sh: ERROR: services unavailable under CI=true" >&2; exit 1; }
fi
postgres=up redis=up
bash scripts/services.sh check-postgres || postgres=down
bash scripts/services.sh check-redis || redis=down
[ "$postgres" = down ] && echo "test.sh: PostgreSQL is not answering on 127.0.0.1:5432: skipping the PostgreSQL passes."
[ "$redis" = down ] && echo "test.sh: Redis is not answering on 127.0.0.1:6379: skipping the Redis pass."

# The JavaScript tests' packages (axios and react for the adapters' tests, typescript for
# the npm package's declarations, used by pytest too): install the locked versions once.
if [ -d tests/js ] && command -v npm >/dev/null; then
  if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
    npm ci --prefix tests/js --no-audit --no-fund --loglevel=error || failed=1
  fi
fi

# -- which tests run where ------------------------------------------------------------------
# A test marked `redis` runs in the Redis pass, one marked only `postgres` in the PostgreSQL
# pass; when that pass cannot run, pass 1 takes the test so that it shows as skipped.
sqlite_expr="(not postgres and not redis)"
[ "$redis" = down ] && sqlite_expr="$sqlite_expr or redis"
[ "$postgres" = down ] && sqlite_expr="$sqlite_expr or (postgres and not redis)"

run_pytest sqlite "$sqlite_expr" -u DATABASE_URL -u REDIS_URL -- "$@"

if [ "$postgres" = up ]; then
  run_pytest postgresql "not browser and not redis" -u REDIS_URL DATABASE_URL="$POSTGRES_URL" -- --create-db "${ONCE[@]}" "$@"
fi

if [ "$redis" = up ]; then
  if [ "$postgres" = up ]; then
    run_pytest postgresql+redis "not browser and (redis or not postgres)" \
      DATABASE_URL="$POSTGRES_URL" REDIS_URL="$REDIS_URL_FOR_TESTS" -- --create-db "${ONCE[@]}" "$@"
  else
    # Without PostgreSQL the multi-process tests come here and skip with the reason.
    run_pytest sqlite+redis "not browser" -u DATABASE_URL REDIS_URL="$REDIS_URL_FOR_TESTS" -- "${ONCE[@]}" "$@"
  fi
fi

if [ $# -eq 0 ] && [ -d tests/js ]; then
  echo
  if command -v node >/dev/null; then
    echo "== node --test tests/js =="
    node_start=$SECONDS
    node --test tests/js/ 2>&1 | tee "$LOG_DIR/node.log"
    rc=${PIPESTATUS[0]}
    p=$(grep -E "^# pass [0-9]+" "$LOG_DIR/node.log" | grep -oE "[0-9]+" | tail -1)
    f=$(grep -E "^# fail [0-9]+" "$LOG_DIR/node.log" | grep -oE "[0-9]+" | tail -1)
    s=$(grep -E "^# skipped [0-9]+" "$LOG_DIR/node.log" | grep -oE "[0-9]+" | tail -1)
    total_passed=$((total_passed + ${p:-0})); total_failed=$((total_failed + ${f:-0})); total_skipped=$((total_skipped + ${s:-0}))
    summary+=("$(printf '%-22s %4s passed %3s failed %3s skipped  %4ss  exit %s' node "${p:-0}" "${f:-0}" "${s:-0}" "$((SECONDS - node_start))" "$rc")")
    [ "$rc" -ne 0 ] && failed=1
  else
    echo "test.sh: node is not installed: the JavaScript client's tests did not run." >&2
    [ "${CI:-}" = "true" ] && failed=1
  fi
fi

run_check() {  # name, command...: one passed or failed line in the summary
  local name=$1 check_start=$SECONDS rc
  shift
  echo
  echo "== $name: $* =="
  "$@"
  rc=$?
  if [ "$rc" -eq 0 ]; then p=1 f=0; else p=0 f=1; failed=1; fi
  total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
  summary+=("$(printf '%-22s %4s passed %3s failed %3s skipped  %4ss  exit %s' "$name" "$p" "$f" 0 "$((SECONDS - check_start))" "$rc")")
}

if [ $# -eq 0 ]; then
  # The docs site: a broken link, a missing page or an API reference that cannot be
  # generated fails the run. (Its code samples run in tests/test_docs.py, above.)
  run_check "docs: mkdocs" .venv/bin/mkdocs build --strict --quiet --site-dir "$LOG_DIR/site"
  run_check "quality: ruff" .venv/bin/ruff check src server tests examples scripts bench
  run_check "quality: format" .venv/bin/ruff format --check --quiet src server tests examples scripts bench
  # The service's settings (loaded by the django-stubs plugin) warn without a SECRET_KEY.
  run_check "quality: mypy" env SECRET_KEY=type-checking-only .venv/bin/mypy
fi

echo
echo "== summary ($((SECONDS - started)) s) =="
printf '%s\n' "${summary[@]}"
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $failed
