#!/usr/bin/env bash
# Create an isolated venv for a peer benchmark tool (guidellm or aiperf), outside Stellwerk's own venv.
#
#   benchmarks/peers/setup.sh [guidellm|aiperf]     # default: guidellm
#
# The venv lands in ~/.cache/stellwerk/venvs/peers-<name> (override the root with STELLWERK_PEERS_DIR);
# `stellwerk bench --compare <name>` finds it there. Why isolated: these tools pin their own versions of
# httpx, pydantic, transformers and torch that conflict with vLLM's. We pass `torch==2.13.0` on the same
# pip line so pip keeps the CPU wheel (found on disk here) instead of pulling CUDA's (~6 GB).
set -euo pipefail

name="${1:-guidellm}"
case "$name" in
  guidellm) spec="guidellm==0.8.1" ;;
  aiperf) spec="aiperf" ;;
  *) echo "setup.sh: unknown peer '$name' (known: guidellm, aiperf)" >&2; exit 2 ;;
esac

root="${STELLWERK_PEERS_DIR:-$HOME/.cache/stellwerk/venvs}"
venv="$root/peers-$name"
python="${PYTHON:-python3.11}"

marker="$venv/.stellwerk-complete"
if [[ -f "$marker" ]]; then
  echo "$name already installed in $venv"
  exit 0
fi
mkdir -p "$root"
# NOTE: a venv's scripts hard-code its path, so it is built under its final name; the marker file says
# the install finished (an interrupted one is removed and redone).
rm -rf "$venv"
trap 'rm -rf "$venv"' ERR
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --progress-bar off "$spec" "torch==2.13.0"
"$venv/bin/$name" --help >/dev/null
touch "$marker"
echo "$name installed in $venv"
