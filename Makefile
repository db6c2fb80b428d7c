# Two commands on a fresh machine: `make run` and `make test` (both install what is missing).
VENV     ?= .venv
PYTHON   ?= python3
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip --disable-pip-version-check -q
BASE     := $(VENV)/.installed-base
TESTDEPS := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: install run test bench demo clean

install: $(BASE)

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip

$(BASE): pyproject.toml constraints.txt | $(VENV)/bin/python
	@echo "installing the engine into $(VENV) ..."
	@$(PIP) install -c constraints.txt -e .
	@touch $@

$(TESTDEPS): $(BASE)
	@$(PIP) install -c constraints.txt -e ".[test]"
	@touch $@

run: install
	@$(VENV)/bin/aiops up

test: $(TESTDEPS)
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	@$(VENV)/bin/aiops bench

demo: install
	@$(VENV)/bin/aiops demo

clean:
	rm -rf $(VENV) *.egg-info
