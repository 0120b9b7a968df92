"""The layer order of pyproject.toml's import-linter contracts holds (`make lint` checks it too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, check=False)


def test_every_contract_is_kept() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path: Path) -> None:
    """The same contract types catch an upward import (so the check above can fail)."""
    for name, body in {"high": "VALUE = 1\n", "low": "from pkg.high import VALUE\n"}.items():
        (tmp_path / "pkg" / name).mkdir(parents=True)
        (tmp_path / "pkg" / name / "__init__.py").write_text(body)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_packages = ["pkg"]\n\n[[tool.importlinter.contracts]]\n'
                      'name = "order"\ntype = "layers"\ncontainers = ["pkg"]\nexhaustive = true\n'
                      'layers = ["high", "low"]\n')
    done = _lint(str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert "pkg.low is not allowed to import pkg.high" in done.stdout
