"""The built package works on its own: `python -m build` (sdist, then the wheel built from that sdist)
carries every data file, and the wheel installed into a throwaway venv runs the CLI and a slice of the
unit suite from a folder outside the checkout, importing Stellwerk from the venv, never the checkout.

The venv gets only the wheel (`pip install --no-deps`); the third-party packages come from the locked
environment this test runs in, through a `.pth` line naming its site-packages (plain path lines do not run
that environment's own `.pth` hooks, so its editable install of the checkout stays invisible). What this
proves: the wheel is complete and importable on its own. That the locked dependency set itself installs
cleanly, with hashes checked, is what scripts/bootstrap.sh does on every fresh machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("serving", "router", "models", "cluster", "benchmarks", "stellwerk_cli")
# Unit tests that read shipped data (catalogue, templates, routing config, quality table, prices,
# planner profiles, trained feature artifacts, tenancy config) and need nothing from the checkout.
UNIT_SLICE = (
    "test_catalogue.py", "test_routing_config.py", "test_quality_table.py", "test_cost_hardware.py",
    "test_planner_profiles.py", "test_features.py", "test_tenancy_config.py",
)
_LOCATION_TEST = '''
import importlib
from pathlib import Path

def test_stellwerk_is_imported_from_the_installed_wheel() -> None:
    for name in {packages!r}:
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to({site!r}), module.__file__
'''


def _run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # no checkout on the path
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _checkout_files() -> list[str]:
    """Tracked files plus new ones not ignored: what a fresh clone of this work would hold."""
    listed = _run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=REPO).stdout.split()
    return [path for path in listed if (REPO / path).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a clean copy: a checkout's own stellwerk.egg-info/SOURCES.txt (left by the editable
    # install) would add files to the sdist that the package configuration does not name.
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for path in _checkout_files():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, source / path)
    # --no-isolation: the build back end comes from the locked environment, no download.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source, cwd=out)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", root, cwd=root)
    python = root / "bin" / "python"
    wheel = next(dist.glob("stellwerk-*.whl"))
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
         wheel, cwd=root)
    (_site_packages(root) / "_stellwerk_locked_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def _site_packages(venv: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(_run(venv / "bin" / "python", "-c", code, cwd=venv).stdout.strip())


def _shipped_data_files() -> list[str]:
    return sorted(p for p in _checkout_files() if p.split("/", 1)[0] in PACKAGES and not p.endswith(".py"))


def test_sdist_and_wheel_carry_every_tracked_data_file(dist: Path) -> None:
    wheel = set(zipfile.ZipFile(next(dist.glob("stellwerk-*.whl"))).namelist())
    with tarfile.open(next(dist.glob("stellwerk-*.tar.gz"))) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    data = _shipped_data_files()
    assert "models/catalogue.yaml" in data and "router/routing/default.yaml" in data
    assert [path for path in data if path not in wheel] == []
    assert [path for path in data if path not in in_sdist] == []


def test_installed_cli_runs_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    stellwerk = venv / "bin" / "stellwerk"
    assert "serve" in _run(stellwerk, "--help", cwd=tmp_path).stdout
    listing = _run(stellwerk, "models", cwd=tmp_path).stdout
    assert "gemma-3-270m" in listing  # read from the catalogue inside the installed package


def test_unit_slice_passes_against_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    site = str(_site_packages(venv))
    tests = tmp_path / "tests" / "unit"
    tests.mkdir(parents=True)
    for name in ("__init__.py", *(f"unit/{t}" for t in ("__init__.py", *UNIT_SLICE))):
        shutil.copy(REPO / "tests" / name, tmp_path / "tests" / name)
    (tests / "test_installed_location.py").write_text(_LOCATION_TEST.format(packages=PACKAGES, site=site))
    # The test configuration only (markers, asyncio mode, warnings as errors); no source comes along.
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
                  cwd=tmp_path)
    assert " passed" in result.stdout and "failed" not in result.stdout
