"""Keep the memory the router frees returnable to the operating system (glibc malloc).

glibc serves allocations above its mmap threshold (128 KiB) with mmap blocks of their own, which go back
to the operating system when freed; but each time such a block is freed it raises the threshold to that
block's size (up to 32 MiB on 64-bit), so later buffers of that size come from the main heap, whose freed
pages it keeps while any small allocation above them lives. Streams to clients that stopped reading
leave ~1 MB buffers per connection: 200 of them left the router at ~360 MB after the clients had gone
(66 MB before), and at ~90 MB with the threshold fixed. Setting the threshold explicitly turns the
adjustment off (mallopt(3)); `MALLOC_MMAP_THRESHOLD_` in the environment does the same and, when set,
is left to rule.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Final

__all__ = ["MMAP_THRESHOLD_BYTES", "pin_mmap_threshold"]

MMAP_THRESHOLD_BYTES: Final = 128 * 1024  # glibc's own default, kept fixed
_M_MMAP_THRESHOLD: Final = -3  # <malloc.h>
_ENV: Final = "MALLOC_MMAP_THRESHOLD_"


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes. False where there is nothing to do: not Linux,
    a C library without `mallopt`, or the operator chose a threshold in the environment."""
    if not sys.platform.startswith("linux") or _ENV in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
