# leadowner: `make run` and `make test` work on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test test-sqlite lint typecheck check schema demo bench bench-quick screenshots fuzz audit clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

## run: the web app, a Celery worker and beat on the embedded default (SQLite, no server)
run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py demo --if-empty
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --port $(PORT)

## test: the whole suite, on PostgreSQL and Redis when they answer, then the portable part on SQLite
test: $(STAMP)
	@scripts/ensure_chromium.sh
	@eval "$$($(PY) scripts/probe_backends.py)"; \
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)
	@echo "--- the database-portable tests again on the embedded SQLite default"
	@env -u DATABASE_URL $(VENV)/bin/pytest -n 2 -m "not postgres and not redis and not browser" $(PYTEST_ARGS_SQLITE) tests/test_constraints.py tests/test_lead_open.py tests/test_prepared.py tests/test_console_metrics.py tests/test_lookup.py tests/test_bulk_sql.py tests/test_submit_leads.py tests/test_imports_leads.py tests/test_matching.py tests/test_concurrent_reads.py tests/test_submit_lead.py tests/test_routing_cache.py tests/test_reads_recent_activity.py tests/test_placement.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	DEBUG=1 $(VENV)/bin/mypy .

check: lint typecheck test

schema: $(STAMP)
	@DEBUG=1 $(PY) manage.py export_schema

clean:
	rm -rf $(VENV) var

# --- benchmarks (bench/run.py): PostgreSQL and Redis on this machine, load on loopback only
.PHONY: bench-scaleout

## bench: every figure beside its floor at 1M accounts (and match/routing at 10k, 100k); < 20 min
bench: $(STAMP)
	$(PY) -m bench

## bench-quick: the same at 10k accounts with fewer requests; < 3 min (CI runs it)
bench-quick: $(STAMP)
	$(PY) -m bench --quick

## bench-scaleout: 1 vs 2 web processes and 1 vs 2 Celery workers on the 1M book
bench-scaleout: $(STAMP)
	$(PY) -m bench --scaleout

## screenshots: every console screen at laptop and tablet width into docs/screenshots/ (demo book, headless Chromium)
screenshots: $(STAMP)
	@scripts/ensure_chromium.sh
	DEBUG=1 $(PY) manage.py screenshots --out docs/screenshots

## fuzz: the long fuzz and state-machine runs (schemathesis, hypothesis) that `make test` runs bounded
fuzz: $(STAMP)
	@eval "$$($(PY) scripts/probe_backends.py)"; \
	LEADOWNER_FUZZ_LONG=1 FUZZ_SEED=$${FUZZ_SEED:-1} STATEFUL_SEED=$${STATEFUL_SEED:-1} \
	$(VENV)/bin/pytest -m slow $(PYTEST_ARGS) \
		tests/test_fuzz_graphql.py tests/test_fuzz_imports.py tests/test_invariants_stateful.py

## audit: known vulnerabilities in the installed dependencies (pip-audit; needs PyPI's advisory service)
audit: $(STAMP)
	$(VENV)/bin/pip-audit --local --progress-spinner off --skip-editable
