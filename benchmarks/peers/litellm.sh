#!/usr/bin/env bash
# Create an isolated venv holding the LiteLLM proxy, the peer gateway of the router overhead benchmark
# (`python -m benchmarks.overhead`), outside Stellwerk's own venv.
#
#   benchmarks/peers/litellm.sh            # installs litellm==$LITELLM_VERSION (default below) + its proxy
#
# The venv lands in ~/.cache/stellwerk/venvs/peers-litellm (override the root with STELLWERK_PEERS_DIR);
# the benchmark finds it there (or takes --litellm-venv PATH). Why isolated: LiteLLM pins its own versions
# of openai, pydantic, fastapi and uvicorn, which conflict with vLLM's.
#
# Why not `pip install "litellm[proxy]"`: since 1.110 that extra pins `litellm-proxy==<version>` and
# post-release builds of `litellm-proxy-extras` / `litellm-enterprise` that the package index reachable
# here does not carry, so pip cannot resolve it. The proxy's code ships in the `litellm` wheel itself
# (litellm/proxy/); we install the wheel, then the extra's other requirements read from its own metadata,
# without `litellm-proxy` and with those two pins relaxed to the newest available (they hold database
# migrations and enterprise hooks, which a proxy without a database does not use).
set -euo pipefail

version="${LITELLM_VERSION:-1.110.2}"
root="${STELLWERK_PEERS_DIR:-$HOME/.cache/stellwerk/venvs}"
venv="$root/peers-litellm"
python="${PYTHON:-python3.11}"
marker="$venv/.stellwerk-litellm-$version"

if [[ -f "$marker" && -x "$venv/bin/litellm" ]]; then
  echo "litellm $version already installed in $venv"
  exit 0
fi
mkdir -p "$root"
# NOTE: a venv's scripts hard-code its path, so it is built in place; the marker file is written last,
# so an interrupted install is redone from scratch next time.
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip packaging
"$venv/bin/pip" install --progress-bar off "litellm==$version"
mapfile -t proxy_requirements < <("$venv/bin/python" - <<'EOF'
from importlib.metadata import requires
from packaging.requirements import Requirement

relaxed = {"litellm-proxy-extras", "litellm-enterprise"}
for line in requires("litellm") or []:
    req = Requirement(line)
    if req.marker is None or not req.marker.evaluate({"extra": "proxy"}):
        continue
    if req.marker.evaluate({"extra": ""}):
        continue  # a base requirement, already installed
    if req.name == "litellm-proxy":
        continue
    print(req.name if req.name in relaxed else f"{req.name}{req.specifier}")
EOF
)
"$venv/bin/pip" install --progress-bar off "${proxy_requirements[@]}"
"$venv/bin/python" -c "import litellm.proxy.proxy_server"  # the proxy imports
"$venv/bin/litellm" --help >/dev/null
touch "$marker"
echo "litellm $version installed in $venv"
