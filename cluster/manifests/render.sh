#!/usr/bin/env bash
# Regenerate the committed KubeRay manifests from the catalogue (tests/unit/test_cluster_manifests.py
# fails when they are stale). Run from the repository root.
set -euo pipefail
PY=${PY:-.venv/bin/python}
here=${RENDER_OUT:-cluster/manifests}
$PY -m stellwerk_cli.main render --format serve --models gemma-3-270m,all-minilm-l6-v2 --node-resource worker_node \
    --model-dir /models --out $here/serve-cpu.yaml
$PY -m stellwerk_cli.main render --format rayservice --variant cpu --models gemma-3-270m,all-minilm-l6-v2 \
    --model-dir /models --out $here/rayservice-cpu.yaml
$PY -m stellwerk_cli.main render --format rayservice --variant gpu \
    --models llama-3.1-8b-instruct,all-minilm-l6-v2 --model-dir /models --out $here/rayservice-gpu.yaml
rm -rf $here/helm
$PY -m stellwerk_cli.main render --format helm --variant cpu --models gemma-3-270m,all-minilm-l6-v2 \
    --model-dir /models --out $here/helm/stellwerk
