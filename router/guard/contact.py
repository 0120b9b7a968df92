"""Email addresses and phone numbers.

Phones are the hard family: "030 1234567" is a Berlin number and "2024 01 15" is a date. A candidate is
a run of digits with the separators people type (space, dash, dot, slash, parentheses); it is accepted
only in a shape a numbering plan uses:

- international: "+CC ..." or "00CC ..." with a valid country-code prefix and 8-15 digits (E.164);
- North American: (NXX) NXX-XXXX or NXX-NXX-XXXX, area and exchange starting 2-9, optional leading 1;
- European national with a trunk 0 (UK, DE, FR, NL, IT, JP, ...): 9-12 digits, a first group of at least
  two digits, no one-digit groups (which is how ISBNs and dates are told apart), dots only in French pairs;
- bare digits or a 7-digit local number only after a phone word ("Tel.", "call", "Handy", "电话").

A label just before ("Order #", "Invoice no.", "SKU") rejects a national-format candidate unless a phone
word is there too. When a run fails, its last one or two groups are dropped and the rest retried, so a
number followed by another number ("0151 23456789 2 times") is still found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from router.guard.context import has_negative_cue, has_phone_cue
from router.guard.findings import Finding

__all__ = ["find_emails", "find_phones"]

_LOCAL: Final = r"A-Za-z0-9\u00C0-\u024F"
_EMAIL: Final = re.compile(
    rf"(?<![{_LOCAL}._%+\-])[{_LOCAL}][{_LOCAL}._%+\-]{{0,63}}"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))"
    r"(?![A-Za-z0-9_\-]|\.[A-Za-z0-9])"
)
# "icon@2x.png" and "pkg@scope.js" look like addresses; no real top-level domain is a file extension.
_FILE_TLDS: Final = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "js", "mjs", "ts", "tsx", "jsx", "css",
    "scss", "json", "html", "htm", "txt", "md", "yaml", "yml", "pdf", "lock", "map", "wasm", "min",
})

_PHONE: Final = re.compile(
    r"(?<![A-Za-z0-9_+/.\-])\+?\(?\d[\d ()./\-\u00a0]{5,24}\d(?![A-Za-z0-9_]|:\d)"
)
_GROUP: Final = re.compile(r"\d+")
_DIGIT_RUN: Final = re.compile(r"\d{2}")
_NANP: Final = re.compile(
    r"(?:1[ .\-]?)?(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .\-])[2-9]\d\d[ .\-]\d{4}"
)
_LOCAL_7: Final = re.compile(r"[2-9]\d\d[ .\-]\d{4}")
_TRUNK_0: Final = re.compile(r"(?:\(0\d{1,4}\)|0\d{1,4})(?:[ \-/\u00a0]{1,2}\d{2,8}){1,4}")
_FRENCH: Final = re.compile(r"0[1-9](?:[ .\-]\d\d){4}")
_INTERNATIONAL: Final = re.compile(
    r"(?:\+|00)\d{1,3}(?:[ .\-\u00a0]?(?:\(0\)|\(\d{1,4}\)|\d{1,6}))+"
)
_DATE: Final = re.compile(r"\d{1,2}[./\-]\d{1,2}[./\-](?:19|20)\d\d|(?:19|20)\d\d[./\-]\d{1,2}[./\-]\d{1,2}")
_SPARE_COUNTRY_PREFIXES: Final = frozenset({"28", "83", "89"})
_MAX_DROPPED_GROUPS: Final = 2


def find_emails(text: str) -> Iterator[Finding]:
    """Email addresses with a plausible local part and a real-looking top-level domain."""
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        local = match.group(0).split("@", 1)[0]
        if ".." in local or local.endswith(".") or match.group(2).lower() in _FILE_TLDS:
            continue
        if local == "git" and text.startswith(":", match.end()):  # an SSH remote, git@host:owner/repo
            continue
        yield Finding("email", match.start(), match.end())


def find_phones(text: str) -> Iterator[Finding]:
    """Phone numbers in international, North American and trunk-0 national forms (module docstring)."""
    if _DIGIT_RUN.search(text) is None:
        return
    for match in _PHONE.finditer(text):
        end = _phone_end(text, match.start(), match.group(0))
        if end is not None:
            yield Finding("phone", match.start(), end)


def _phone_end(text: str, start: int, candidate: str) -> int | None:
    """The end of the longest acceptable phone number that starts the candidate, or None."""
    groups = list(_GROUP.finditer(candidate))
    # NOTE: the context lookups are the costly part of a candidate; do them once, not per retry.
    cue = has_phone_cue(text, start)
    labelled = not cue and has_negative_cue(text, start)
    for dropped in range(min(_MAX_DROPPED_GROUPS, len(groups) - 1) + 1):
        end = groups[len(groups) - 1 - dropped].end()
        if _is_phone(candidate[:end], cue, labelled):
            return start + end
    return None


def _is_phone(candidate: str, cue: bool, labelled: bool) -> bool:
    """Whether the candidate has a numbering-plan shape (`cue`: phone word before; `labelled`: ID label)."""
    if _DATE.search(candidate):
        return False
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if candidate.startswith("+") or candidate.startswith("00"):
        return _is_international(candidate, digits, labelled)
    if labelled:
        return False
    if _NANP.fullmatch(candidate) or _FRENCH.fullmatch(candidate):
        return True
    if candidate.startswith(("0", "(0")) and 9 <= len(digits) <= 12:
        return _TRUNK_0.fullmatch(candidate) is not None or (cue and candidate.isdigit())
    return cue and (_LOCAL_7.fullmatch(candidate) is not None or (candidate.isdigit() and len(digits) == 10))


def _is_international(candidate: str, digits: str, labelled: bool) -> bool:
    national = digits[2:] if candidate.startswith("00") else digits
    if not 8 <= len(national) <= 15 or national[0] == "0" or national[:2] in _SPARE_COUNTRY_PREFIXES:
        return False
    if candidate.startswith("00") and labelled:
        return False
    return _INTERNATIONAL.fullmatch(candidate) is not None
