#!/usr/bin/env bash
# `make bench`: authgate vs djangorestframework-simplejwt and django-allauth (bench/README.md).
# Creates the reference servers' virtualenvs (bench/.venv-ref, bench/.venv-allauth) when absent or outdated,
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

# The reference servers' virtualenvs, each from its requirements file, (re)created when
# absent or older than that file: simplejwt in bench/.venv-ref, django-allauth in
# bench/.venv-allauth.
reference_venv() {
    local venv=$1 req=$2 what=$3
    if [ ! -x "$venv/bin/gunicorn" ] || [ "$req" -nt "$venv/.installed" ]; then
        echo "bench: installing the $what reference server into $venv"
        # Same base interpreter as authgate's venv.
        "$PY" -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
        touch "$venv/.installed"
    fi
}
reference_venv bench/.venv-ref bench/reference/requirements.txt simplejwt
reference_venv bench/.venv-allauth bench/reference_allauth/requirements.txt django-allauth

exec "$PY" bench/run.py "$@"
