#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests, then end-to-end tests on the real stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin

echo "==> ruff"
"$bin/ruff" check .
echo "==> mypy --strict"
"$bin/mypy"
echo "==> layer order (import-linter)"
"$bin/lint-imports"
echo "==> PostgreSQL for the ledger tests"
bash scripts/ensure_postgres.sh
bash scripts/ensure_observability_tools.sh  # prometheus, promtool, chromium for the observability tests
echo "==> unit tests"
"$bin/python" -m pytest tests/unit tests/conformance tests/gpu tests/chaos -q -m "not slow"
echo "==> packaging: locks, licences, the wheel installed outside the checkout (about a minute)"
"$bin/python" -m pytest tests/packaging -q
echo "==> end-to-end tests (starts Ray Serve + vLLM CPU + Gemma 3 270M: a few minutes)"
"$bin/python" -m pytest tests/e2e -q
echo "==> cluster tests (a real two-node Ray cluster on this host: deploy, two attached routers, one killed; a pool of two real Gemma replicas; ~5-8 min)"
"$bin/python" -m pytest tests/cluster -q
