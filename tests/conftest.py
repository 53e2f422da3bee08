"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py.

Real public data is read from ``$CARDIOPREDICT_DATA`` (default ``../shared/data`` beside the
repository); tests that need it are marked ``realdata`` and skip with a reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """Folder of the real public data (never copied into the repository)."""
    return Path(os.environ.get("CARDIOPREDICT_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(
            f"real data folder {root} is absent; set CARDIOPREDICT_DATA to run realdata tests"
        )
    return root


@pytest.fixture(scope="session")
def ludb_dir(data_root: Path) -> Path:
    path = data_root / "ecg" / "ludb"
    if not (path / "data").is_dir():
        pytest.skip(f"LUDB not found at {path}; set CARDIOPREDICT_DATA to the shared data folder")
    return path


@pytest.fixture(scope="session")
def cmr_dir(data_root: Path) -> Path:
    path = data_root / "cmr"
    if not path.is_dir():
        pytest.skip(
            f"CMR data not found at {path}; set CARDIOPREDICT_DATA to the shared data folder"
        )
    return path
