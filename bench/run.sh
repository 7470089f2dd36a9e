#!/usr/bin/env bash
# `make bench`: authgate vs djangorestframework-simplejwt (bench/README.md).
# Creates the reference server's virtualenv (bench/.venv-ref) when absent or outdated,
# then runs bench/run.py with authgate's .venv Python. Extra arguments go to run.py
# (e.g. `bash bench/run.sh --quick`, `--dbs sqlite`, `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
    # The load generator is Debian's wrk: installed here when we are root on Debian (the
    # developers' machines and CI are), otherwise the bench says what to install.
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench: installing Debian's wrk"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    fi
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: wrk is not installed. On Debian: apt-get install -y wrk" >&2
        exit 2
    fi
fi

PY=.venv/bin/python
if [ ! -x "$PY" ]; then
    echo "bench: authgate's .venv is missing (make bench creates it); benchmarking the reference only" >&2
    PY=python3
fi

REF=bench/.venv-ref
REQ=bench/reference/requirements.txt
if [ ! -x "$REF/bin/gunicorn" ] || [ "$REQ" -nt "$REF/.installed" ]; then
    echo "bench: installing the simplejwt reference server into $REF"
    # Same base interpreter as authgate's venv.
    "$PY" -m venv "$REF"
    "$REF/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
    touch "$REF/.installed"
fi

exec "$PY" bench/run.py "$@"
