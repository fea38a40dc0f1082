# ClaimFlow task runner. Every target creates .venv itself, so a fresh clone needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help venv demo test lint typecheck bench nar clean checkov-venv

help:
	@echo "make demo   - run the whole CDC pipeline locally (moto + fakesnow) and reconcile"
	@echo "make test   - lint, type-check and run the test suite"
	@echo "make bench  - throughput benchmarks (not part of make test)"
	@echo "make nar    - build the NiFi NARs into dist/"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: venv
	$(BIN)/claimflow demo

test: venv checkov-venv lint typecheck
	$(BIN)/python -m pytest -n 2 -q

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
