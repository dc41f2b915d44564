# Infrahaus: `make run` serves the whole product, `make test` runs the whole suite.
# Both set themselves up on a fresh machine (virtualenv, packages, PostgreSQL and Redis).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: help install run demo test test-fast openapi client bench lint format clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(INSTALLED) ## create the virtualenv and install the project with its test tools

run: $(INSTALLED) ## run API + worker (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)
	$(PY) -m services.run

demo: $(INSTALLED) ## like run, plus a Proxmox VE simulator to try everything against
	$(PY) -m services.run --demo

test: $(INSTALLED) ## run every test against real PostgreSQL, Redis (the machine's or embedded)
	$(PY) -m pytest

test-fast: $(INSTALLED) ## skip the slow end-to-end process tests
	$(PY) -m pytest -m "not slow"

openapi: $(INSTALLED) ## regenerate openapi/openapi.json from the app
	$(PY) -m services.api.openapi

client: $(INSTALLED) ## regenerate the Python client infrahaus_client/ from openapi/openapi.json
	$(PY) -m services.api.clientgen

bench: $(INSTALLED) ## run the benchmarks (prints ratios against a bare Litestar route)
	$(PY) -m bench
	$(PY) -m bench.sse

lint: $(INSTALLED) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the virtualenv and caches (keeps .data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
