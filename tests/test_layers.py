"""The layer contract of DESIGN.md (import-linter, in pyproject.toml) holds, and would catch a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(
    not LINT.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), str(REPO / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=package_parent,
        env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_its_layers():
    result = _lint(REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "src" / "cardiopredict", tmp_path / "cardiopredict")
    filters = tmp_path / "cardiopredict" / "ecg" / "filters.py"
    filters.write_text(
        filters.read_text() + "\n\ndef _upward():\n    from cardiopredict.studies import engine\n"
    )
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "cardiopredict.ecg is not allowed to import cardiopredict.studies" in result.stdout
