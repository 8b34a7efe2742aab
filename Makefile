# Quickstart targets: each does its own set-up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench-accuracy bench-throughput clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "cohortwatch needs Python 3.11+"; exit 1; }
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { echo "installing python3-venv"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cohortwatch demo

test: $(STAMP)
	@command -v tor >/dev/null 2>&1 || [ -x /usr/sbin/tor ] || \
	  { echo "installing tor (the Tor network tests)"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q tor; }
	@command -v systemd-analyze >/dev/null 2>&1 || \
	  { echo "installing systemd (systemd-analyze: the unit file tests)"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q systemd; }
	@[ -x /usr/bin/dbus-daemon ] || \
	  { echo "installing dbus (the unit under a live systemd)"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dbus; }
	@[ "$$(uname -m)" != x86_64 ] || [ -e /usr/include/x86_64-linux-gnu/asm/unistd_64.h ] || \
	  { echo "installing linux-libc-dev (syscall numbers: the unit's sandbox test)"; $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q linux-libc-dev; }
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench-accuracy: $(STAMP)
	$(BIN)/python bench/accuracy.py

bench-throughput: $(STAMP)
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
