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
        pytest.skip(f"real data folder {root} is absent; set CARDIOPREDICT_DATA to run realdata tests")
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
        pytest.skip(f"CMR data not found at {path}; set CARDIOPREDICT_DATA to the shared data folder")
    return path


# --- tiny synthetic cohorts and one quick CRT run, shared by the study and CLI tests ----------
# Tests that use them carry ``pytest.mark.xdist_group``, so with ``--dist loadgroup`` each is built
# by one worker only.


@pytest.fixture(scope="session")
def crt_cohort(tmp_path_factory):
    from cardiopredict.cohort.synthetic import simulate_crt_cohort

    return simulate_crt_cohort(tmp_path_factory.mktemp("crt") / "cohort", n=40, seed=3, format="csv")


@pytest.fixture(scope="session")
def cm_cohort(tmp_path_factory):
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort

    return simulate_cardiomyopathy_cohort(
        tmp_path_factory.mktemp("cm") / "cohort", n=45, seed=4, format="csv"
    )


@pytest.fixture(scope="session")
def crt_run(crt_cohort, tmp_path_factory):
    """A quick CRT run (2 folds, few epochs) with figures and report."""
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.crt import run_crt_study

    out = tmp_path_factory.mktemp("crt_run") / "run"
    metrics = run_crt_study(crt_cohort, out, profile=StudyProfile.quick(seed=0))
    return out, metrics
