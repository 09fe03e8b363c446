# The two set-up commands are `make dev` and `make test`; both create the venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# `sam build` insists on the runtime's own Python (3.12).
PY312_BIN := $(shell pyenv root 2>/dev/null)/versions/3.12.1/bin
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: venv dev test lint unit build bench clean

$(INSTALLED): requirements-dev.txt src/layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(INSTALLED)

venv: $(INSTALLED)

dev: venv
	@echo "make dev: the Docker-free local stack is not built yet (issue 3)." >&2
	@echo "Until then, run the tests with 'make test'." >&2
	@exit 1

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint

unit: venv
	$(BIN)/pytest

test: lint unit

build: venv
	PATH="$(PY312_BIN):$$PATH" $(BIN)/sam build

bench: venv
	$(BIN)/python bench/cold_start.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache
