# ETP Express Operations Academy
#   make start   install (first run only) and open the trainee's JupyterLab on workspace/
#   make test    install (first run only) and run the whole test suite
#   make test-fast  the inner loop: every test but the slow (whole notebooks, live hub) and browser ones
#   make trainer the trainer's JupyterLab on this folder (formgrader, Create Assignment)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: start trainer test test-fast install system lab-extension

start: install
	$(PY) -m course.trainer.lab.launch

trainer: install
	$(PY) -m course.trainer.lab.launch --trainer

# pytest-xdist: TEST_WORKERS processes share the suite out in the groups of tests/run_plan.py.
TEST_WORKERS ?= 4
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: install system
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(PARALLEL)

test-fast: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(PARALLEL) -m "not slow and not browser"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@echo "Installing the course's Python environment into $(VENV) (first run, or after requirements.txt changed)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps ngshare-exchange==0.5.3  # pins jupyter-core<4.11.2; runs on 5.x
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Debian packages: Bubblewrap sandboxes graded kernels; the browser tests drive Chromium
# (Playwright cannot download its own browser here); the gradebook tests start a throw-away
# PostgreSQL cluster (Debian keeps initdb in /usr/lib/postgresql/<version>/bin).
# npm brings JupyterHub's proxy, configurable-http-proxy (deploy/jupyterhub, the live hub test).
SYSTEM_PACKAGES := bubblewrap:bwrap chromium:chromium npm:npm
CHP_VERSION := 5.3.0
system:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v $${pair#*:} >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; done; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Please install:$$missing (sudo apt-get install$$missing)"; exit 1; \
	  fi; fi
	@command -v configurable-http-proxy >/dev/null 2>&1 || \
	  npm install -g --silent configurable-http-proxy@$(CHP_VERSION)

# The trainee Lab's extension (course/trainer/lab/extension): rebuilds build/ after src/index.js changed.
LAB_BUILDER := @jupyterlab/builder@4.5.11
lab-extension: install
	cd course/trainer/lab/extension && rm -rf build && \
	  npm install --no-save --no-audit --no-fund --silent $(LAB_BUILDER) && \
	  node node_modules/@jupyterlab/builder/lib/build-labextension.js --core-path \
	  "$$($(abspath $(PY)) -c 'import jupyterlab, pathlib; print(pathlib.Path(jupyterlab.__file__).parent / "staging")')" .
