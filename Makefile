# ETP Express Operations Academy
#   make start   install (first run only) and open the course in JupyterLab
#   make test    install (first run only) and run the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: start test install browser

start: install
	$(PY) -m course.launch

test: install browser
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; \
	  fi; }
