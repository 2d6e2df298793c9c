# PCMS Exchange. `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e test-contract bench contracts services lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

services:
	@bash deploy/scripts/ensure-services.sh

run: $(STAMP) services
	$(BIN)/pcms run

test: $(STAMP) services
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest -m unit

test-integration: $(STAMP) services
	$(BIN)/pytest -m integration

test-e2e: $(STAMP) services
	$(BIN)/pytest -m e2e

test-contract: $(STAMP)
	$(BIN)/pytest -m contract

contracts: $(STAMP)
	$(BIN)/python -m shared.contracts.generate
	$(BIN)/python -m shared.contracts.versioning check

# make bench BENCH_ARGS="--quick" (a few minutes; full sizes without it); add --profile (or --profile-at RATE) to py-spy the services.
bench: $(STAMP) services
	@case " $(BENCH_ARGS) " in *" --profile "*|*" --profile-at "*) $(BIN)/pip install --quiet 'py-spy>=0.3.14';; esac
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .run
