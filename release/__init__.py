"""Release tooling: dependency locks, the SBOM and the licence check (run by `make lock`, checked by tests).

Not part of the installed package: these modules read the repository (pyproject.toml, requirements/,
licenses/, sbom/) and are run from its root.
"""
