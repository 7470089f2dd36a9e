# authgate — the two commands: `make run` (serve on SQLite) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_CONCURRENCY ?= 2

.PHONY: run test install install-dev migrate serve bench bench-adapters load-audit soak scale dist clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files: reinstall only when the dependency list changes.
$(VENV)/.installed-server: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[server]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-server

install: $(VENV)/.installed-server
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput
	@# The start-up warnings were said by migrate: once per start (server/apps.py).
	AUTHGATE_STARTUP_WARNED=1 $(PY) manage.py createcachetable
	AUTHGATE_STARTUP_WARNED=1 $(PY) manage.py collectstatic --noinput --verbosity 0
	AUTHGATE_STARTUP_WARNED=1 $(PY) manage.py ensure_superuser

# Production-grade server (gunicorn) unless DEBUG=1; SERVER=asgi: uvicorn workers (ASGI,
# websockets at /ws/echo/).
run: migrate
	@if [ "$${DEBUG:-0}" = "1" ]; then \
		exec env AUTHGATE_STARTUP_WARNED=1 $(PY) manage.py runserver $(HOST):$(PORT); \
	elif [ "$${SERVER:-wsgi}" = "asgi" ]; then \
		exec env AUTHGATE_STARTUP_WARNED=1 $(VENV)/bin/gunicorn server.asgi:application -k uvicorn_worker.UvicornWorker -c server/gunicorn.conf.py \
			--bind $(HOST):$(PORT) --workers $(WEB_CONCURRENCY) --access-logfile - --forwarded-allow-ips 127.0.0.1; \
	else \
		exec env AUTHGATE_STARTUP_WARNED=1 $(VENV)/bin/gunicorn server.wsgi:application -c server/gunicorn.conf.py --bind $(HOST):$(PORT) \
			--workers $(WEB_CONCURRENCY) --access-logfile - --forwarded-allow-ips 127.0.0.1; \
	fi

test: install-dev
	bash scripts/test.sh

# The release files: sdist, wheel and npm tarball with SHA-256 checksums, in dist/.
dist: install-dev
	bash scripts/dist.sh

bench: install
	bash bench/run.sh
	$(PY) bench/adapters.py

# Only the adapters' ratios: ASGI protected vs the ASGI floor, Ninja vs Ninja's own floor.
bench-adapters: install
	$(PY) bench/adapters.py $(ARGS)

# Correctness under load: ≤ 30 s, 127.0.0.1, 50 connections; exits 1 on a violation.
load-audit: install-dev
	$(PY) bench/load_audit.py $(ARGS)

# Faults under mixed traffic, loopback only, its own PostgreSQL/Redis: SOAK_SECONDS (600)
# of traffic, a fault every SOAK_FAULT_EVERY (30) s; writes bench/SOAK.md, exits 1 on a violation.
soak: install-dev
	$(PY) bench/soak.py $(ARGS)

# 100k live sessions under Zipf traffic, cleanup of 1M dead ones; writes bench/SCALE.md.
scale: install-dev
	$(PY) bench/scale.py $(ARGS)

clean:
	rm -rf $(VENV) $(VENV)-py3* var staticfiles .pytest_cache dist build
