"""What a scan returns, the kinds it can return, and redaction for tests and tools.

A `Finding` carries a kind and offsets only, never the matched text: findings are logged, counted and
put in headers, and none of those may hold the sensitive value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["KINDS", "Finding", "redact"]

# Also the priority order when two findings overlap: the earlier kind wins (a private key block
# contains base64 that could look like anything; an IBAN's digits could look like a phone number).
KINDS: Final[tuple[str, ...]] = (
    "private_key", "api_key", "iban", "credit_card", "us_ssn", "email", "phone",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value: its kind and the half-open character span [start, end) in the scanned text."""

    kind: str
    start: int
    end: int


def redact(text: str, findings: Sequence[Finding]) -> str:
    """`text` with each finding replaced by its kind in brackets ("[EMAIL]"); findings must not overlap."""
    parts: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        parts.append(text[position:finding.start])
        parts.append(f"[{finding.kind.upper()}]")
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)
