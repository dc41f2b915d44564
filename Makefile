# Infrahaus: `make run` serves the whole product, `make test` runs the whole suite.
# Both set themselves up on a fresh machine (virtualenv, packages, PostgreSQL and Redis).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: help install browser run demo test test-fast reliability openapi client bench lint typecheck format clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(INSTALLED) ## create the virtualenv and install the project with its test tools

# The real-browser test (tests/e2e/test_browser.py) drives Debian's Chromium through playwright
# (never playwright's own browser downloads). Installed when missing, as root, without prompts.
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=300
browser: ## install Debian's chromium for the browser test when missing (root and apt-get only)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "chromium is missing and cannot be installed here (needs root and apt-get): the browser test will be skipped"; \
	else \
	  echo "installing Debian's chromium for the browser test (apt-get)"; \
	  { $(APT_GET) install chromium || { $(APT_GET) update && $(APT_GET) install chromium; }; } \
	    </dev/null >/dev/null 2>&1 \
	  || echo "apt-get could not install chromium: the browser test will be skipped"; \
	fi

run: $(INSTALLED) ## run API + worker (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)
	$(PY) -m services.run

demo: $(INSTALLED) ## like run, plus a Proxmox VE simulator to try everything against
	$(PY) -m services.run --demo

test: $(INSTALLED) browser ## run every test against real PostgreSQL, Redis (the machine's or embedded)
	$(PY) -m pytest

test-fast: $(INSTALLED) ## skip the slow end-to-end process tests and the reliability suite
	$(PY) -m pytest -m "not slow and not reliability"

reliability: $(INSTALLED) ## the fault suite and the live schemathesis run; prints the figures docs/reliability.md records (make test runs both too)
	$(PY) -m pytest -m reliability tests/reliability tests/contract/test_schemathesis_live.py

openapi: $(INSTALLED) ## regenerate openapi/openapi.json from the app
	$(PY) -m services.api.openapi

client: $(INSTALLED) ## regenerate the Python client infrahaus_client/ from openapi/openapi.json
	$(PY) -m services.api.clientgen

bench: $(INSTALLED) ## run the benchmarks (prints ratios against a bare Litestar route)
	$(PY) -m bench
	$(PY) -m bench.sse

lint: $(INSTALLED) typecheck ## ruff lint and format check, and the type check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(INSTALLED) ## mypy (strict) on shared/, services/api and services/worker ([tool.mypy] in pyproject.toml)
	$(VENV)/bin/mypy

format: $(INSTALLED) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the virtualenv and caches (keeps .data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
