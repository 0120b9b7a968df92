"""Write a CycloneDX 1.6 SBOM for one flavour from its lock and pip's metadata report of that lock.

`python -m release.sbom FLAVOUR LOCK REPORT OUT`: every pinned package of LOCK becomes a `library`
component (name, version, purl, the lock's sha256 digests, licence from licenses/allowed.yaml's rules or
the package's metadata in REPORT, i.e. `pip install --dry-run --report`), and every model of
licenses/models.yaml a `machine-learning-model` component with its own licence. The output holds no
timestamp and a serial number derived from its content, so regenerating an unchanged lock changes nothing.
"""

from __future__ import annotations

import json
import sys
import tomllib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from release.licenses import Policy, declared_license, load_policy
from release.lockfile import LockedPackage, normalise, read_lock

__all__ = ["build_sbom", "main"]

MODELS_PATH: Final = Path("licenses/models.yaml")
_NAMESPACE: Final = uuid.UUID("5f0c5a52-9d5e-4f53-9a43-7a3b7c1e0d18")


def _license(expression: str) -> list[dict[str, Any]]:
    return [{"expression": expression}]


def _library(package: LockedPackage, metadata: Mapping[str, Any], policy: Policy) -> dict[str, Any]:
    expression, source = declared_license(metadata, policy)
    rule = policy.rule_for(package.name)
    if rule is not None and not policy.accepts(expression):
        expression, source = rule.license, f"reviewed rule (metadata: {expression}, {source})"
    return {
        "type": "library",
        "bom-ref": f"pkg:pypi/{package.name}@{package.version}",
        "name": package.name,
        "version": package.version,
        "purl": f"pkg:pypi/{package.name}@{package.version}",
        "hashes": [{"alg": "SHA-256", "content": digest} for digest in package.hashes],
        "licenses": _license(expression),
        "properties": [{"name": "stellwerk:license-source", "value": source}],
    }


def _model(entry: Mapping[str, Any], versions: Mapping[str, str]) -> dict[str, Any]:
    package = normalise(str(entry["package"]))
    version = versions[package]
    return {
        "type": "machine-learning-model",
        "bom-ref": f"model:{entry['name']}@{version}",
        "name": str(entry["name"]),
        "version": version,
        "description": str(entry["description"]),
        "licenses": _license(str(entry["license"])),
        "externalReferences": [{"type": "license", "url": str(entry["license_url"])}],
        "properties": [
            {"name": "stellwerk:package", "value": f"pkg:pypi/{package}@{version}"},
            {"name": "stellwerk:base-model", "value": str(entry["base_model"])},
        ],
    }


def build_sbom(
    flavour: str, locked: Sequence[LockedPackage], report: Mapping[str, Any], project: Mapping[str, Any],
    policy: Policy, models: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The SBOM document; raises KeyError when the report lacks a locked package (a stale report)."""
    metadata = {normalise(item["metadata"]["name"]): item["metadata"] for item in report["install"]}
    versions = {package.name: package.version for package in locked}
    components = [_library(package, metadata[package.name], policy) for package in locked]
    components += [_model(entry, versions) for entry in models if normalise(entry["package"]) in versions]
    body = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "bom-ref": f"pkg:pypi/stellwerk@{project['version']}",
                "name": "stellwerk",
                "version": str(project["version"]),
                "licenses": _license(str(project["license"])),
                "properties": [{"name": "stellwerk:flavour", "value": flavour}],
            },
        },
        "components": components,
    }
    serial = uuid.uuid5(_NAMESPACE, json.dumps(body, sort_keys=True))
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": f"urn:uuid:{serial}", **body}


def main(argv: Sequence[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m release.sbom FLAVOUR LOCK REPORT OUT", file=sys.stderr)
        return 2
    flavour, lock, report, out = argv
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    models = yaml.safe_load(MODELS_PATH.read_text())["models"]
    sbom = build_sbom(
        flavour, read_lock(Path(lock).read_text()), json.loads(Path(report).read_text()), project,
        load_policy(), models,
    )
    Path(out).write_text(json.dumps(sbom, indent=1) + "\n")
    print(f"==> {out}: {len(sbom['components'])} components")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
