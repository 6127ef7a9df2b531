"""Supported Pythons (3.11, 3.12, 3.13): the Makefile picks or refuses the interpreter, martops stops
on an unsupported one, `python -m martops` runs the CLI, and the lock(s) agree with pyproject's pins.

The 3.10 tests use a real Python 3.10 (on PATH or a pyenv install) and are skipped without one.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import martops

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
LOCKS = sorted((REPO / "requirements").glob("lock*.txt"))
CORE = {"ibis-framework": "12.0.0", "duckdb": "1.5.5", "sqlglot": "30.17.0"}
SUPPORTED_TEXT = "3.11, 3.12 or 3.13"


def _python(version: str) -> str | None:
    """A command running exactly Python `version` (e.g. "3.10"), or None when there is none here."""
    candidates = [f"python{version}",
                  *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))]
    for candidate in candidates:
        try:
            found = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip() == version:
            return candidate
    return None


PYTHON_310 = _python("3.10")
needs_310 = pytest.mark.skipif(PYTHON_310 is None, reason="no Python 3.10 here (python3.10 or a pyenv install)")
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def _make(*args: str) -> subprocess.CompletedProcess:
    """`make ARGS` in the repository as a user types it (no make state inherited from a calling make),
    with this test's interpreter first on PATH so that the Makefile can find a supported Python."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHON")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _martops(python: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([python, *args], env=env, capture_output=True, text=True, timeout=300)


@needs_make
@needs_310
def test_make_refuses_python_310_naming_the_supported_versions_and_creates_nothing(tmp_path):
    venv = tmp_path / "venv"
    done = _make("test", f"PYTHON={PYTHON_310}", f"VENV={venv}")
    assert done.returncode != 0
    assert (f"martops needs Python {SUPPORTED_TEXT}, but PYTHON={PYTHON_310} is Python 3.10."
            in done.stderr)
    assert re.search(r"Pick one: make test PYTHON=\S+", done.stderr)
    assert not venv.exists()


@needs_make
def test_make_refuses_a_python_that_does_not_run_and_creates_nothing(tmp_path):
    venv = tmp_path / "venv"
    missing = tmp_path / "no-such-python"
    done = _make("demo", f"PYTHON={missing}", f"VENV={venv}")
    assert done.returncode != 0
    assert f"but PYTHON={missing} is not a Python that runs." in done.stderr
    assert "Pick one: make demo PYTHON=" in done.stderr
    assert not venv.exists()


@needs_make
def test_make_picks_a_supported_python_by_default():
    done = _make("help")
    assert done.returncode == 0, done.stderr
    picked = re.search(r"^Python: (\S+) \((\d+\.\d+)\)", done.stdout, re.M)
    assert picked, done.stdout
    assert tuple(map(int, picked.group(2).split("."))) in martops.SUPPORTED_PYTHONS


@needs_310
def test_martops_on_python_310_says_which_versions_work_without_a_traceback(tmp_path):
    script = tmp_path / "martops"  # what pip's console script does
    script.write_text("from martops.cli import main\nmain()\n")
    for as_command in (_martops(PYTHON_310, "-m", "martops", "--version"),
                       _martops(PYTHON_310, str(script), "--version")):
        assert as_command.returncode == 1
        assert "Traceback" not in as_command.stderr
        assert as_command.stderr.startswith(f"martops needs Python {SUPPORTED_TEXT}; this is Python 3.10 (")
        assert len(as_command.stderr.strip().splitlines()) == 1
    as_library = _martops(PYTHON_310, "-c", "import martops")
    assert as_library.returncode == 1
    assert f"ImportError: martops needs Python {SUPPORTED_TEXT}; this is Python 3.10" in as_library.stderr


def test_python_dash_m_martops_runs_the_cli():
    version = _martops(sys.executable, "-m", "martops", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"martops {martops.__version__}")
    typo = _martops(sys.executable, "-m", "martops", "kpiz")
    assert typo.returncode == 2
    assert "Traceback" not in typo.stderr


def test_pyproject_makefile_and_package_name_the_same_pythons():
    requires = SpecifierSet(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"])
    by_pyproject = {(3, minor) for minor in range(8, 20) if f"3.{minor}.0" in requires}
    makefile = re.search(r"^SUPPORTED_PYTHONS\s*:=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
    by_makefile = {tuple(map(int, v.split("."))) for v in makefile.group(1).split()}
    assert by_pyproject == by_makefile == set(martops.SUPPORTED_PYTHONS) == {(3, 11), (3, 12), (3, 13)}


def _pins(lines: list[str]) -> dict[str, str]:
    """{canonical name: version} of the `name[extras]==version` lines (comments and blanks skipped)."""
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name.split("[")[0])] = version
    return pins


@pytest.mark.parametrize("lock", LOCKS, ids=[lock.name for lock in LOCKS])
def test_each_lock_pins_the_core_trio_and_every_pyproject_pin(lock):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    locked = _pins(lock.read_text().splitlines())
    assert {name: locked.get(name) for name in CORE} == CORE
    assert {name: locked.get(name) for name in declared} == declared

