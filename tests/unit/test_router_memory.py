"""`router.memory`: with glibc's mmap threshold fixed, large buffers freed behind small live ones go
back to the operating system; with glibc's dynamic threshold they stay in the heap. Measured in fresh
interpreters (resident memory of the process itself)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from router.memory import pin_mmap_threshold
if sys.argv[1] == "pin":
    assert pin_mmap_threshold()
def rss_kib():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
first = bytearray(1 << 20)
del first  # a freed 1 MiB mmap block: glibc raises its threshold to 1 MiB unless it is fixed
base = rss_kib()
big, small = [], []
for _ in range(200):  # ~1 MB buffers with small allocations between them, as a server's are
    big.append(bytearray((1 << 20) - 8192))
    small.append(bytearray(600))
del big
print((rss_kib() - base) // 1024)
"""


def _retained_mib(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_large_buffers_go_back_to_the_system_only_with_the_threshold_pinned() -> None:
    assert _retained_mib("dynamic") > 100  # glibc's default: ~200 MB kept after the buffers are freed
    assert _retained_mib("pin") < 20
