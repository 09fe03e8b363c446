# The two set-up commands are `make dev` and `make test`; both create the venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# `sam build` insists on the runtime's own Python (3.12).
PY312_BIN := $(shell pyenv root 2>/dev/null)/versions/3.12.1/bin
# Recipes use bash, for `set -o pipefail` where output is piped.
SHELL := bash
PORT ?= 3000
AWS_PORT ?= 5000
SMTP_PORT ?= 2525
HOST ?= 127.0.0.1
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: venv dev token invoke test lint unit fuzz build bench soak clean

LAYER_DIRS := $(abspath $(wildcard src/layers/*))
FUNCTION_DIRS := $(abspath $(filter-out src/layers,$(patsubst %/,%,$(wildcard src/*/))))

$(INSTALLED): requirements-dev.txt src/layers/*/requirements.txt src/*/requirements.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@# On the venv's path: the project (`local`, `tests`), the layers (as Lambda puts them on its
	@# own) and each function's code directory, which holds one package named for the function.
	@# Tests, the local stack and benchmarks import `receipt_vault`, `sync_handler.app`... plainly.
	printf '%s\n' "$(CURDIR)" $(LAYER_DIRS) $(FUNCTION_DIRS) > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/receipt-vault.pth"
	touch $(INSTALLED)

venv: $(INSTALLED) $(VENV)/.client-installed

# checkov in a virtualenv of its own, so its dependency pins never touch the project's.
CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
$(CHECKOV_INSTALLED): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_INSTALLED)

# openapi-python-client, likewise in a virtualenv of its own. It generates the Python client of
# api/openapi.yaml into .generated/python-client/ (git-ignored), which the project's venv has on
# its path: tests/integration/test_generated_client.py drives the local stack with it.
OPENAPI_VENV := .venv-openapi
OPENAPI_INSTALLED := $(OPENAPI_VENV)/.installed
$(OPENAPI_INSTALLED): requirements-openapi.txt
	$(PYTHON) -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OPENAPI_VENV)/bin/python -m pip install --quiet -r requirements-openapi.txt
	touch $(OPENAPI_INSTALLED)

CLIENT_DIR := .generated/python-client
CLIENT_INSTALLED := $(VENV)/.client-installed
$(CLIENT_INSTALLED): $(INSTALLED) $(OPENAPI_INSTALLED) api/openapi.yaml lint/contract/openapi-python-client.yaml requirements-client.txt
	rm -rf $(CLIENT_DIR)
	PATH="$(CURDIR)/$(OPENAPI_VENV)/bin:$$PATH" $(OPENAPI_VENV)/bin/openapi-python-client generate --path api/openapi.yaml --config lint/contract/openapi-python-client.yaml --meta none --output-path $(CLIENT_DIR)/receipt_vault_client --fail-on-warning
	@# The contract it was generated from: the test refuses to run a client older than the contract.
	sha256sum api/openapi.yaml > $(CLIENT_DIR)/openapi.sha256
	$(BIN)/python -m pip install --quiet -r requirements-client.txt
	printf '%s\n' "$(CURDIR)/$(CLIENT_DIR)" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/receipt-vault-client.pth"
	touch $(CLIENT_INSTALLED)

# The whole API on http://127.0.0.1:$(PORT), backed by an embedded AWS emulation; Ctrl-C stops it.
dev: venv
	$(BIN)/python -m local --host $(HOST) --port $(PORT) --aws-port $(AWS_PORT) --smtp-port $(SMTP_PORT)

# A fresh access token for the demo user of the running local stack.
token: venv
	@$(BIN)/python -m local.token --api http://127.0.0.1:$(PORT)

# One function with a captured event, as `sam local invoke` would: make invoke FN=HealthFunction EVENT=events/health/get_health.json
invoke: venv
	@test -n "$(FN)" -a -n "$(EVENT)" || (echo "usage: make invoke FN=<LogicalId> EVENT=<events/...json>" >&2; exit 2)
	@$(BIN)/python -m local.invoke $(FN) $(EVENT) --api http://127.0.0.1:$(PORT)

# schemathesis, likewise in a virtualenv of its own.
FUZZ_VENV := .venv-fuzz
FUZZ_INSTALLED := $(FUZZ_VENV)/.installed
$(FUZZ_INSTALLED): requirements-fuzz.txt
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FUZZ_VENV)/bin/python -m pip install --quiet -r requirements-fuzz.txt
	touch $(FUZZ_INSTALLED)

lint: venv $(CHECKOV_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# Import boundaries: handler -> service -> store, logic without boto3 (pyproject.toml).
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download
	@# The contract: openapi-python-client, then Spectral, Redocly and openapi-typescript + tsc where node is.
	lint/contract/check.sh

# Tests run on every core: each worker has its own in-process moto and its own local stack.
# The log's last line, pytest's count, is what .ci/run prints last.
unit: venv
	@mkdir -p .test-results
	set -o pipefail; $(BIN)/pytest -n auto | tee .test-results/unit.log

# A bounded schemathesis run against the local stack: every phase and check, a fixed seed, about
# two thousand requests in about two minutes (local/fuzz.py, local/schemathesis.toml).
fuzz: venv $(FUZZ_INSTALLED)
	$(BIN)/python -m local.fuzz

test: lint unit fuzz

# Then bytecode for every function and layer, compiled by the runtime's Python: Lambda cannot
# write .pyc files, so without it every cold start compiles its imports (local/bytecode.py).
build: venv
	PATH="$(PY312_BIN):$$PATH" $(BIN)/sam build
	PATH="$(PY312_BIN):$$PATH" python3.12 -m local.bytecode .aws-sam/build

# Every benchmark under bench/, then bench/RESULTS.md: each figure against its same-run baseline.
# Cold starts are timed by the runtime's Python (3.12) where this machine has it, as `build` compiles.
bench: venv
	PATH="$(PY312_BIN):$$PATH" $(BIN)/python bench/run_all.py $(ONLY)

# The sync simulation over many seeds (three run in `make test`): make soak SEEDS=200 STEPS=300
SEEDS ?= 40
STEPS ?= 200
soak: venv
	$(BIN)/python bench/sync_soak.py --seeds $(SEEDS) --steps $(STEPS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache .test-results .schemathesis
