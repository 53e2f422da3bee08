"""The small cohorts and quick runs whose out-of-fold scores are recorded as the reference."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def golden_runs(tmp: Path) -> dict[str, Path]:
    """``{"crt": run_dir, "cardiomyopathy": run_dir}`` of quick, figure-free runs in ``tmp``."""
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort, simulate_crt_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.cardiomyopathy import run_cardiomyopathy_study
    from cardiopredict.studies.crt import run_crt_study

    profile = StudyProfile.quick(seed=0)
    crt = simulate_crt_cohort(tmp / "crt", n=30, seed=11, format="csv")
    run_crt_study(crt, tmp / "crt_run", profile=profile, figures=False)
    cm = simulate_cardiomyopathy_cohort(tmp / "cm", n=36, seed=12, format="csv")
    run_cardiomyopathy_study(
        cm, tmp / "cm_run", tasks=("gen-vs-myo", "3class"), profile=profile, figures=False
    )
    return {"crt": tmp / "crt_run", "cardiomyopathy": tmp / "cm_run"}


def long_scores(run: Path) -> pd.DataFrame:
    """Every out-of-fold score of a run as rows ``patient_id, task, column, value``."""
    frames = []
    for path in sorted(run.glob("predictions*.csv")):
        table = pd.read_csv(
            path, dtype={"patient_id": str, "task": str}, keep_default_na=False, na_values=[""]
        )
        if "task" not in table:
            table["task"] = ""
        table["task"] = table["task"].fillna("")
        scores = [c for c in table.columns if c.startswith("score_")]
        long = table.melt(id_vars=["patient_id", "task"], value_vars=scores, var_name="column")
        frames.append(long.dropna(subset=["value"]))
    return pd.concat(frames, ignore_index=True).sort_values(["task", "column", "patient_id"])
