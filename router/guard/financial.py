"""IBANs, payment card numbers and US Social Security numbers: digit shapes confirmed by checksums.

- IBAN: a registered country code, that country's exact length, then mod-97 (ISO 13616), written
  compact or in groups of four.
- Card: 13-19 digits, compact or grouped as printed (4-4-4-4, 4-6-5, ...) with one kind of separator, a
  known issuer prefix for that length, then Luhn. A run that fails loses its last group and is retried,
  so "4111 1111 1111 1111 2027" still yields the card.
- SSN: AAA-GG-SSSS under the SSA's area/group/serial rules; without dashes, or after a label such as
  "Order #", only when "SSN"/"social security" precedes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from router.guard.checksums import IBAN_LENGTHS, card_prefix_known, iban_valid, luhn_valid, ssn_valid
from router.guard.context import has_negative_cue, has_ssn_cue
from router.guard.findings import Finding

__all__ = ["find_cards", "find_ibans", "find_ssns"]

_IBAN: Final = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){11,30}")
_CARD: Final = re.compile(r"(?<![A-Za-z0-9_.\-])\d(?:[ \-]?\d){12,18}(?![A-Za-z0-9_]|[\-.]\d)")
_SSN: Final = re.compile(r"(?<![A-Za-z0-9_\-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![A-Za-z0-9_]|-\d)")
_GROUP: Final = re.compile(r"\d+")
_DIGITS: Final = re.compile(r"\d{2}")  # every family here needs two digits in a row: skip texts without
_AMEX_DINERS_GROUPS: Final = ((4, 6, 5), (4, 6, 4))


def find_ibans(text: str) -> Iterator[Finding]:
    """IBANs whose country, length and mod-97 check digits are all right."""
    if _DIGITS.search(text) is None:
        return
    for match in _IBAN.finditer(text):
        end = _iban_end(text, match.start(), IBAN_LENGTHS.get(match.group(0)[:2], 0))
        if end is not None:
            yield Finding("iban", match.start(), end)


def _iban_end(text: str, start: int, length: int) -> int | None:
    """Where an IBAN of `length` characters starting at `start` ends, if it validates and stands alone."""
    if length == 0:
        return None
    compact: list[str] = []
    position = start
    while len(compact) < length and position < len(text):
        char = text[position]
        if char.isalnum():
            compact.append(char)
        elif char not in " -":
            return None
        position += 1
    if position < len(text) and text[position].isalnum():
        return None
    return position if iban_valid("".join(compact)) else None


def find_cards(text: str) -> Iterator[Finding]:
    """Payment card numbers: known issuer prefix and length, printed grouping, valid Luhn digit."""
    if _DIGITS.search(text) is None:
        return
    for match in _CARD.finditer(text):
        candidate = match.group(0)
        groups = list(_GROUP.finditer(candidate))
        for count in range(len(groups), max(0, len(groups) - 2), -1):
            cut = candidate[:groups[count - 1].end()]
            if _is_card(cut, [len(g.group(0)) for g in groups[:count]]):
                yield Finding("credit_card", match.start(), match.start() + len(cut))
                break


def _is_card(candidate: str, group_lengths: list[int]) -> bool:
    digits = candidate.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or len({c for c in candidate if not c.isdigit()}) > 1:
        return False
    if len(group_lengths) > 1 and not _printed_grouping(group_lengths):
        return False
    return card_prefix_known(digits) and luhn_valid(digits)


def _printed_grouping(lengths: list[int]) -> bool:
    """Groups as cards print them: fours with a shorter last group, or Amex/Diners 4-6-5 and 4-6-4."""
    if tuple(lengths) in _AMEX_DINERS_GROUPS:
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def find_ssns(text: str) -> Iterator[Finding]:
    """US Social Security numbers that follow SSA rules (see module docstring for the context rules)."""
    if _DIGITS.search(text) is None:
        return
    for match in _SSN.finditer(text):
        area, separator, group, serial = match.groups()
        if not ssn_valid(area, group, serial):
            continue
        cue = has_ssn_cue(text, match.start())
        if cue or (separator == "-" and not has_negative_cue(text, match.start())):
            yield Finding("us_ssn", match.start(), match.end())
