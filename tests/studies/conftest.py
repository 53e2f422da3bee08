"""Tiny synthetic cohorts shared by the study tests (built once per session, in a temp folder)."""

from __future__ import annotations

import pytest


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
