"""API keys, tokens and PEM private keys.

Vendor keys are found by their documented prefixes (OpenAI `sk-`/`sk-proj-`, Anthropic `sk-ant-`, AWS
`AKIA`/`ASIA`, GitHub `ghp_`/`github_pat_`, Slack `xox?-`, Google `AIza`, Stripe `sk_live_`, Hugging
Face `hf_`), JWTs by their base64url JSON header, and unprefixed secrets only where the text says what
they are: `Bearer <token>` or `api_key = "<value>"`. Prefixes that also start ordinary words (`sk-`,
`Bearer`, `token=`) additionally need a random-looking body: letters and digits, many distinct
characters, no placeholder runs like `xxxxxx` — so "sk-learn", "Bearer of bad news" and
"sk-your-key-here" do not count.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from router.guard.findings import Finding

__all__ = ["find_api_keys", "find_private_keys", "looks_random"]

_MIN_DISTINCT: Final = 10
_PLACEHOLDER_RUN: Final = re.compile(r"(.)\1{5,}|(?i:your|example_?key|placeholder|redacted|insert)")


def looks_random(token: str) -> bool:
    """True for a token with letters and digits, >= 10 distinct characters and no placeholder pattern."""
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return (has_digit and has_alpha and len(set(token)) >= _MIN_DISTINCT
            and _PLACEHOLDER_RUN.search(token) is None)


def _not_placeholder(token: str) -> bool:
    return _PLACEHOLDER_RUN.search(token) is None


def _jwt_header_ok(token: str) -> bool:
    """True when the first segment decodes to a JSON object naming an algorithm ("alg")."""
    header = token.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.lstrip().startswith(b"{") and b'"alg"' in decoded


@dataclass(frozen=True)
class _KeyRule:
    """A key pattern; `group` is the regex group that is the secret, `check` validates that text."""

    pattern: re.Pattern[str]
    check: Callable[[str], bool]
    hints: tuple[str, ...]  # lower-case substrings one of which must occur; skips the regex pass cheaply
    group: int = 0


_B: Final = r"(?<![A-Za-z0-9_\-])"  # not inside a longer identifier
_E: Final = r"(?![A-Za-z0-9_\-])"
_KEY_RULES: Final = (
    _KeyRule(re.compile(_B + r"sk-[A-Za-z0-9_\-]{20,}" + _E), lambda t: looks_random(t[3:]), hints=("sk-",)),
    _KeyRule(re.compile(_B + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}" + _E), _not_placeholder,
             hints=("_live_", "_test_")),
    _KeyRule(re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Z0-9])"), _not_placeholder,
             hints=("akia", "asia", "abia", "acca")),
    _KeyRule(re.compile(_B + r"gh[pousr]_[A-Za-z0-9]{36,}" + _E), _not_placeholder, hints=("gh",)),
    _KeyRule(re.compile(_B + r"github_pat_[A-Za-z0-9_]{50,}" + _E), _not_placeholder, hints=("github_pat_",)),
    _KeyRule(re.compile(_B + r"xox[abprs]-(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9\-]{10,}" + _E), _not_placeholder,
             hints=("xox",)),
    _KeyRule(re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"), _not_placeholder,
             hints=("hooks.slack.com",)),
    _KeyRule(re.compile(_B + r"AIza[0-9A-Za-z_\-]{35}" + _E), _not_placeholder, hints=("aiza",)),
    _KeyRule(re.compile(_B + r"hf_[A-Za-z0-9]{30,}" + _E), looks_random, hints=("hf_",)),
    _KeyRule(re.compile(_B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
             _jwt_header_ok, hints=("eyj",)),
    _KeyRule(re.compile(r"\b(?i:bearer)\s+([A-Za-z0-9._~+/\-]{20,}=*)"), looks_random,
             hints=("bearer",), group=1),
    _KeyRule(re.compile(
        r"(?i:api[_-]?key|secret[_-]?(?:access[_-]?)?key|access[_-]?key|client[_-]?secret|auth[_-]?token|"
        r"access[_-]?token|refresh[_-]?token|secret|token|password|passwd)[\"']?\s*[:=]\s*[\"']?"
        r"([A-Za-z0-9/+_=.\-]{20,})"), looks_random, group=1, hints=("key", "secret", "token", "passw")),
)

_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,\-]*[A-Za-z0-9+/=])"
)


def find_api_keys(text: str) -> Iterator[Finding]:
    """Vendor API keys, JWTs, bearer tokens and assigned secrets (module docstring has the rules)."""
    lowered = text.lower()
    for rule in _KEY_RULES:
        if not any(hint in lowered for hint in rule.hints):
            continue
        for match in rule.pattern.finditer(text):
            if rule.check(match.group(rule.group)):
                yield Finding("api_key", match.start(rule.group), match.end(rule.group))


def find_private_keys(text: str) -> Iterator[Finding]:
    """PEM/OpenSSH/PGP private key blocks, to the END line or, when cut off, to the end of the body."""
    if "-----BEGIN" not in text:
        return
    for match in _PRIVATE_KEY.finditer(text):
        yield Finding("private_key", match.start(), match.end())
