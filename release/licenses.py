"""The licence policy (licenses/allowed.yaml): what a package's metadata says, and whether we accept it.

A component passes when its licence expression is satisfied by the globally allowed SPDX ids (`A OR B`
needs one side, `A AND B` both, `A WITH exc` both the licence and the exception), or when it is exactly
the licence of a reviewed per-package rule that names it. Anything else, including a licence the
metadata does not state, fails the check: `python -m release.licenses sbom/*.cdx.json` exits 1 and
names each offender.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = [
    "DEFAULT_POLICY_PATH",
    "UNKNOWN",
    "PackageRule",
    "Policy",
    "check_components",
    "declared_license",
    "load_policy",
    "main",
]

DEFAULT_POLICY_PATH: Final = Path("licenses/allowed.yaml")
UNKNOWN: Final = "LicenseRef-unknown"
_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")
_OPERATORS: Final = frozenset({"AND", "OR", "WITH"})


@dataclass(frozen=True)
class PackageRule:
    """A reviewed decision for the packages matching `match` (fnmatch patterns on normalised names)."""

    match: tuple[str, ...]
    license: str
    reason: str

    def applies_to(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.match)


@dataclass(frozen=True)
class Policy:
    """Allowed SPDX ids, the meaning of free-text licence fields, and per-package reviewed rules."""

    allowed: frozenset[str]
    aliases: Mapping[str, str]
    rules: tuple[PackageRule, ...]

    def rule_for(self, name: str) -> PackageRule | None:
        return next((rule for rule in self.rules if rule.applies_to(name)), None)

    def accepts(self, expression: str) -> bool:
        """Whether the globally allowed ids satisfy `expression` (no per-package rule consulted)."""
        return _satisfied(expression, self.allowed)


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    raw = yaml.safe_load(path.read_text())
    rules = tuple(
        PackageRule(tuple(entry["match"]), str(entry["license"]), str(entry["reason"]))
        for entry in raw.get("packages", [])
    )
    return Policy(frozenset(raw["allowed"]), dict(raw.get("aliases", {})), rules)


def declared_license(metadata: Mapping[str, Any], policy: Policy) -> tuple[str, str]:
    """(SPDX expression, where it came from) for one package's core metadata (a pip report's `metadata`).

    Order: a PEP 639 `license_expression`; the `license` field when it is an expression of allowed ids or
    a known alias (only its first line: many packages paste the whole licence text there); the trove
    classifiers; otherwise UNKNOWN, carrying the text so that a reviewer sees what the package says.
    """
    expression = metadata.get("license_expression")
    if expression:
        return str(expression), "license-expression"
    text = str(metadata.get("license") or "").strip()
    first_line = text.splitlines()[0].strip() if text else ""
    if first_line in policy.aliases:
        return policy.aliases[first_line], "license-field"
    if first_line and _ids(first_line) and _ids(first_line) <= policy.allowed:
        return first_line, "license-field"
    classifiers = [c for c in metadata.get("classifier", []) if c.startswith("License ::")]
    mapped = [policy.aliases[c] for c in classifiers if c in policy.aliases]
    if mapped and len(mapped) == len(classifiers):
        # Several licence classifiers: require all of them (stricter than guessing a dual licence).
        return " AND ".join(sorted(set(mapped))), "classifier"
    return UNKNOWN, "unknown: " + (first_line[:80] or "; ".join(classifiers) or "no licence in metadata")


def _ids(expression: str) -> set[str]:
    tokens = _TOKEN.findall(expression)
    return {t for t in tokens if t not in _OPERATORS and t not in "()"}


def _satisfied(expression: str, allowed: frozenset[str]) -> bool:
    tokens = _TOKEN.findall(expression)
    if "".join(tokens) != re.sub(r"\s+", "", expression):
        return False  # characters outside the SPDX grammar: not an expression we can vouch for
    value, rest = _parse_or(tokens, allowed)
    return value and not rest


def _parse_or(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    value, tokens = _parse_and(tokens, allowed)
    while tokens[:1] == ["OR"]:
        right, tokens = _parse_and(tokens[1:], allowed)
        value = value or right
    return value, tokens


def _parse_and(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    value, tokens = _parse_term(tokens, allowed)
    while tokens[:1] == ["AND"]:
        right, tokens = _parse_term(tokens[1:], allowed)
        value = value and right
    return value, tokens


def _parse_term(tokens: list[str], allowed: frozenset[str]) -> tuple[bool, list[str]]:
    if not tokens or tokens[0] in _OPERATORS or tokens[0] == ")":
        return False, ["<malformed>"]
    if tokens[0] == "(":
        value, rest = _parse_or(tokens[1:], allowed)
        return (value, rest[1:]) if rest[:1] == [")"] else (False, ["<malformed>"])
    value, rest = tokens[0] in allowed, tokens[1:]
    if rest[:1] == ["WITH"] and len(rest) > 1:
        value, rest = value and rest[1] in allowed, rest[2:]
    return value, rest


def check_components(components: Sequence[Mapping[str, Any]], policy: Policy) -> list[str]:
    """One line per component whose licence the policy does not accept (empty: all accepted)."""
    problems = []
    for component in components:
        name, expression = str(component["name"]), _expression(component)
        if policy.accepts(expression):
            continue
        rule = policy.rule_for(name)
        if rule is not None and rule.license == expression:
            continue
        problems.append(f"{name} {component.get('version', '')}: licence {expression!r} is not allowed")
    return problems


def _expression(component: Mapping[str, Any]) -> str:
    licenses = component.get("licenses") or [{"expression": UNKNOWN}]
    return str(licenses[0].get("expression", UNKNOWN))


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m release.licenses SBOM.cdx.json...", file=sys.stderr)
        return 2
    policy, failed = load_policy(), False
    for path in argv:
        components = json.loads(Path(path).read_text())["components"]
        problems = check_components(components, policy)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"==> {path}: {len(components) - len(problems)}/{len(components)} components' licences allowed")
        failed = failed or bool(problems)
    if failed:
        print("Add a rule or alias to licenses/allowed.yaml only after reading the licence.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
