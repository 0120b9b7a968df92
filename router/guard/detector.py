"""The sensitive-data detector: runs each enabled family's scanner and keeps non-overlapping findings.

Everything is compiled at import; a scan is a handful of regex passes plus checksum validators, with no
I/O and no logging (the text it sees is exactly what must never reach a log). Where findings of two
kinds overlap, the kind listed first in `KINDS` wins (a private key block beats the base64 "tokens"
inside it; an IBAN beats the digit run inside it that looks like a phone number); within one kind
the longer finding wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Final

from router.guard.contact import find_emails, find_phones
from router.guard.financial import find_cards, find_ibans, find_ssns
from router.guard.findings import KINDS, Finding
from router.guard.secrets import find_api_keys, find_private_keys

__all__ = ["SensitiveDataDetector"]

Scanner = Callable[[str], Iterator[Finding]]

_SCANNERS: Final[dict[str, Scanner]] = {
    "private_key": find_private_keys,
    "api_key": find_api_keys,
    "iban": find_ibans,
    "credit_card": find_cards,
    "us_ssn": find_ssns,
    "email": find_emails,
    "phone": find_phones,
}
_PRIORITY: Final = {kind: rank for rank, kind in enumerate(KINDS)}


class SensitiveDataDetector:
    """Finds PII and secrets in text. Thread-safe and stateless after construction.

    `kinds` limits the scan to those kinds (None: all of `KINDS`); an unknown kind raises ValueError
    naming the known ones, so a typo in a tenant policy fails at load time, not silently.
    """

    def __init__(self, kinds: Collection[str] | None = None) -> None:
        selected = KINDS if kinds is None else tuple(kinds)
        unknown = sorted(set(selected) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown sensitive-data kinds {unknown}; known kinds: {list(KINDS)}")
        self._scanners = tuple(_SCANNERS[kind] for kind in KINDS if kind in selected)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds this detector looks for, in priority order."""
        return tuple(kind for kind in KINDS if _SCANNERS[kind] in self._scanners)

    def scan(self, text: str) -> list[Finding]:
        """Non-overlapping findings in `text`, sorted by start offset."""
        candidates = [finding for scanner in self._scanners for finding in scanner(text)]
        return _resolve_overlaps(candidates)

    def kinds_in(self, texts: Iterable[str]) -> dict[str, int]:
        """How many findings of each kind the texts hold (kinds with none are left out); no text kept."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(finding.kind for finding in self.scan(text))
        return dict(counts)


def _resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep the best finding of each overlapping cluster: kind priority first, then length."""
    chosen: list[Finding] = []
    for finding in sorted(candidates, key=lambda f: (_PRIORITY[f.kind], f.start - f.end, f.start)):
        if all(finding.end <= kept.start or finding.start >= kept.end for kept in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)
