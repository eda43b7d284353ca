# One command to run the product, one to pass the tests (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint types unit package e2e clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip<26.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The stack keeps its state in .devstack/ (DEVSTACK_STATE_DIR overrides); `make reset` empties it.
run: $(STAMP)
	$(BIN)/python -m devstack

.PHONY: reset
reset: $(STAMP)
	$(BIN)/python -m devstack reset

.PHONY: emails
emails: $(STAMP)
	$(BIN)/python -m devstack emails

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

# mypy --strict on chalicelib/ (pyproject.toml's [tool.mypy]).
types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) browser databases
	$(BIN)/python -m pytest -q -n 2

package: $(STAMP)
	$(BIN)/python -m infra.package

# Debian's headless Chromium and its driver for tests/forms/test_form_browser.py, installed when
# missing (CI runs as root); otherwise the browser test skips and this says what to install.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	else \
		echo "make browser: chromium/chromium-driver missing; the browser test will skip. As root:"; \
		echo "  apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver"; \
	fi

# Debian's PostgreSQL and MariaDB servers for the database sync tests (tests/support/databases.py
# starts them on free ports in temporary folders), installed when missing (CI runs as root);
# otherwise those tests skip and this says what to install.
.PHONY: databases
databases:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v mariadbd >/dev/null 2>&1 \
		|| { [ -x /usr/sbin/mariadbd ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends postgresql mariadb-server; \
	else \
		echo "make databases: postgresql/mariadb-server missing; the sync tests will skip. As root:"; \
		echo "  apt-get update && apt-get install -y --no-install-recommends postgresql mariadb-server"; \
	fi

test: lint types package unit
	$(BIN)/cfn-lint build/sam.json

clean:
	rm -rf build .pytest_cache
