"""Sensitive-data guard: finds PII and secrets in request text so policy can keep them on-prem or refuse.

`SensitiveDataDetector(kinds).scan(text)` returns `Finding(kind, start, end)` spans, never the text
itself; `kinds_in` counts them for headers and logs; `redact` masks them for tests and tools.
"""

from router.guard.detector import SensitiveDataDetector
from router.guard.findings import KINDS, Finding, redact

__all__ = ["KINDS", "Finding", "SensitiveDataDetector", "redact"]
