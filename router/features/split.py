"""The deterministic held-out split shared by training and `stellwerk eval`.

A prompt is held out when the SHA-256 of its stripped text falls in the first HELD_OUT_PERCENT of
100 buckets. It depends on the text alone (not on a file's order or a random seed), so duplicates land
on the same side and the eval can re-derive exactly the rows the heads never saw.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["HELD_OUT_PERCENT", "is_held_out"]

HELD_OUT_PERCENT: Final = 20


def is_held_out(prompt: str) -> bool:
    """True when `prompt` belongs to the held-out (evaluation) side of the split."""
    digest = hashlib.sha256(prompt.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT
