# Two commands: `make run` serves the demo course, `make test` runs every test (browser tests included).
# `make cluster`: several instances on PostgreSQL behind Caddy, to try on one machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DB ?= data/demo.sqlite3
HOST ?= 127.0.0.1
PORT ?= 8000
CLUSTER_PORT ?= 8080
TEST_PROCESSES ?= 2

.PHONY: run test cluster cluster-stop install install-test browser postgresql proxies bench vendor clean

run: install
	@CHECKIN_DB=$(DEMO_DB) CHECKIN_HOST=$(HOST) CHECKIN_PORT=$(PORT) $(VENV)/bin/checkin demo --reset >/dev/null
	@CHECKIN_DB=$(DEMO_DB) CHECKIN_HOST=$(HOST) CHECKIN_PORT=$(PORT) $(VENV)/bin/checkin serve

test: install-test browser postgresql proxies
	$(PY) -m pytest -q -n $(TEST_PROCESSES)

# Two instances on a throwaway PostgreSQL behind Caddy, with the demo course (data/cluster; Ctrl+C stops it).
cluster: install postgresql
	@scripts/ensure-proxies.sh
	@$(PY) scripts/cluster.py --port $(CLUSTER_PORT)

cluster-stop:
	@$(PY) scripts/cluster.py stop

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || (echo "checkin needs Python 3.11 or newer"; exit 1)
	$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip > /dev/null 2>&1 || true

# pip's chatter goes to a log, shown only when the install fails.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	@echo "Installing checkin into $(VENV)..."
	@$(PY) -m pip install -q -e . > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	@echo "Installing the test needs..."
	@$(PY) -m pip install -q -e '.[test]' > $(VENV)/pip-test.log 2>&1 || (cat $(VENV)/pip-test.log; exit 1)
	@touch $@

# A Chromium for the browser tests: $$CHECKIN_CHROMIUM, the system's, or Debian's package when we are root.
browser:
	@scripts/ensure-chromium.sh

# PostgreSQL's server binaries for the tests' throwaway server: the system's, or Debian's package when we are root.
postgresql:
	@scripts/ensure-postgresql.sh

# Caddy (the cluster tests run it in front of two instances) and nginx (its shipped config is checked):
# the system's, or Debian's packages when we are root.
proxies:
	@scripts/ensure-proxies.sh --nginx

# Every benchmark of the README, one after another (about half an hour with the PostgreSQL runs; run it on an
# otherwise idle machine).
bench: install-test browser postgresql
	-$(PY) bench/scan_load.py
	-$(PY) bench/scan_writer.py
	-$(PY) bench/scan_load.py --postgres --participants 6000 --requests 2500 --instances 1
	-$(PY) bench/scan_load.py --postgres --participants 6000 --requests 2500 --instances 2
	-$(PY) bench/scan_latency.py
	-$(PY) bench/live.py
	-$(PY) bench/live.py --postgres
	-$(PY) bench/streams.py
	-$(PY) bench/offline.py
	-$(PY) bench/badges.py
	-$(PY) bench/export.py
	-$(PY) bench/roster_preview.py
	-$(PY) bench/long_writes.py

vendor:
	static/vendor/fetch.sh

clean:
	rm -rf $(VENV) data .pytest_cache
