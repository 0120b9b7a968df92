"""An attached router never imports vLLM or torch: the model applications are built in the cluster
(`serving.apps`), and the request routers Serve ships to the router's handles import neither."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
import stellwerk_cli.attach, stellwerk_cli.commands, stellwerk_cli.cluster
import router.app, cluster.serve_engines, serving.apps, cluster.serve_config, cluster.deployer
from ray.serve.config import RequestRouterConfig
from serving.llm_config import PREFIX_ROUTER_PATH, STATS_ROUTER_PATH
for path in (PREFIX_ROUTER_PATH, STATS_ROUTER_PATH):
    RequestRouterConfig(request_router_class=path).get_request_router_class()  # as a handle does
print(sorted(m for m in ("vllm", "torch") if m in sys.modules))
"""


def test_the_router_side_imports_neither_vllm_nor_torch() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
