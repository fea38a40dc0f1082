# ClaimFlow task runner. Every target creates .venv itself, so a fresh clone needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help venv demo test lint typecheck bench nar clean checkov-venv it-nifi

help:
	@echo "make demo   - run the whole CDC pipeline locally (moto + fakesnow) and reconcile"
	@echo "make test   - lint, type-check and run the test suite"
	@echo "make bench  - throughput benchmarks (not part of make test)"
	@echo "make nar    - build the NiFi NARs into dist/"
	@echo "make it-nifi NIFI_HOME=... - the integration test against a real NiFi 2.x install"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: venv
	$(BIN)/claimflow demo

# NIFI_HOME is cleared so the real-NiFi test (tests/it_nifi) is reported as not run here: `make it-nifi` runs it.
test: venv checkov-venv lint typecheck
	NIFI_HOME= $(BIN)/python -m pytest -n 2 -q

# A real NiFi 2.x (NIFI_HOME: an install, e.g. the official binary) started on 127.0.0.1 with a throwaway copy,
# the freshly built NARs, and the REST API checks of tests/it_nifi. Results: build/it-nifi/results.json.
it-nifi: venv
	@test -n "$(NIFI_HOME)" || { echo "make it-nifi needs NIFI_HOME=/path/to/nifi-2.x (an unpacked NiFi install)"; exit 2; }
	@mkdir -p build/it-nifi
	NIFI_HOME="$(NIFI_HOME)" CLAIMFLOW_IT_NIFI_RESULTS=build/it-nifi/results.json $(BIN)/python -m pytest -q tests/it_nifi

lint: venv
	$(BIN)/ruff check processors tests

typecheck: venv
	$(BIN)/mypy

# checkov pins conflict with the main environment, so it lives in its own virtualenv (gitignored .venv-*/).
# tests/infra runs .venv-checkov/bin/checkov against every template in infra/.
CHECKOV_VENV := .venv-checkov
checkov-venv: $(CHECKOV_VENV)/bin/checkov

$(CHECKOV_VENV)/bin/checkov:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade checkov

bench: venv
	$(BIN)/python -m claimflow.bench

# NiFi Archives (ship engineer): one NAR per (NAR, target runtime) into dist/, built with hatch-datavolo-nar.
# NARS: core snowpark. NAR_TARGETS: see claimflow/flow/nar_build.py TARGETS (aarch64 ones are optional extras).
NARS ?= core snowpark
NAR_TARGETS ?= cp311-manylinux_2_28_x86_64 cp312-manylinux_2_28_x86_64
nar: venv
	$(BIN)/python -m claimflow.flow.nar_build $(addprefix --nar ,$(NARS)) $(addprefix --target ,$(NAR_TARGETS)) --out dist

clean:
	rm -rf $(VENV) dist build .demo .pytest_cache .mypy_cache .ruff_cache
