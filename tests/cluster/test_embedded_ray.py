"""The embedded router's Ray never joins a cluster it was not asked to join."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cluster.ray_nodes import ROOT

SCRIPT = """
from cluster import ray_cluster
import ray
ray_cluster.connect(None, 1)
print("nodes", len(ray.nodes()))
ray_cluster.shutdown()
"""


def test_the_embedded_ray_starts_its_own_even_with_a_recorded_cluster_address() -> None:
    """`ray.init()` would join $RAY_ADDRESS (or the cluster `ray start` recorded on the machine), here a
    dead one; the embedded router starts its own Ray instead."""
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1", "PYTHONPATH": str(ROOT),
           "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "nodes 1" in done.stdout
