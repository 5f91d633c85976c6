# genre_pipeline — the two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOME_DIR ?= $(or $(GENRE_PIPELINE_HOME),.genre_pipeline)
UI_PORT ?= 3000
# torch/torchvision are pinned in pyproject.toml (torch>=2.9,<=2.14.1); on this project's
# machines pip takes 2.14.1 / 0.29.1 from the local wheel store in about a minute.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

.PHONY: help venv install demo test test-fast bench ui clean-home lint mutation compose-smoke

help:
	@echo "make demo    create .venv, install, write the synthetic demo catalog, materialize every asset + partition"
	@echo "make test    install test deps and run the test suite (what CI runs)"
	@echo "make ui      open the Dagster web UI (dg dev, http://127.0.0.1:$(UI_PORT)) on the demo home"
	@echo "make bench   benchmarks (ratios measured side by side in one process)"
	@echo "make mutation  mutation testing (mutmut) of the modules in pyproject's [tool.mutmut] (catalog + models); MUTATION_ARGS='--scope catalog'"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

# Installed marker: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet $(TORCH_PINS)
	$(PIP) install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/bin/python
install: $(VENV)/.installed

demo: install
	$(VENV)/bin/genre-pipeline demo-catalog --home $(HOME_DIR) --if-missing
	$(VENV)/bin/genre-pipeline run --source demo --home $(HOME_DIR)

test: install
	$(PY) -m pytest -q -ra $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -ra -m "not slow and not postgres" $(PYTEST_ARGS)

bench: install
	$(PY) -m genre_pipeline.bench $(BENCH_ARGS)

# Opt-in, not part of CI: mutants of the catalog and models modules against their own tests only.
mutation: install
	$(PIP) install --quiet 'mutmut==3.8.1'
	$(PY) tools/mutation.py $(MUTATION_ARGS)

# `dg dev` in the project's own environment (VIRTUAL_ENV says which one to dg): webserver + daemon.
ui: install
	GENRE_PIPELINE_HOME=$(abspath $(HOME_DIR)) DAGSTER_HOME=$(abspath $(HOME_DIR))/dagster \
		VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH \
		$(VENV)/bin/dg dev -h 127.0.0.1 -p $(UI_PORT)

clean-home:
	rm -rf $(HOME_DIR)

# Opt-in, slow (image builds, a real run): docker-compose.yml brought up under podman, one run
# launched through the webserver and finished by the daemon's run container. See docs/DEPLOYMENT.md.
compose-smoke:
	bash deploy/compose_smoke.sh
