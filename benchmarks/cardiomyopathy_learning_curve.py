"""Why the cardiomyopathy CNNs fall short of the oracle: a learning curve against the ECG oracle (SYNTHETIC).

Usage::

    python benchmarks/cardiomyopathy_learning_curve.py --sizes 500,1500 --inputs rr --json curve.json

The pairwise tasks are run by the study's own protocol (patient-level 5-fold CV, paper profile by
default) on synthetic cohorts of increasing size (same generator and seed) and scored against both
oracles of each cohort: the posterior from every trait, and the ECG oracle (the posterior from what the
simulated ECG shows, the bound for an ECG-only model). If the gap to the ECG oracle shrinks with n, the
networks are data-limited at the default n = 500, not mis-specified. The measurement logistic regression
(the study's baseline) is reported on the same folds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.cardiomyopathy import run_cardiomyopathy_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1500", help="comma list of cohort sizes")
    parser.add_argument("--tasks", default="gen-vs-myo,gen-vs-sarc,myo-vs-sarc")
    parser.add_argument("--inputs", default="rr", help="comma list of inputs (qrs, rr)")
    parser.add_argument("--profile", choices=["paper", "demo", "quick"], default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="cp-cm-curve-"))
    profile = getattr(StudyProfile, args.profile)(seed=args.seed)
    tasks, inputs = args.tasks.split(","), args.inputs.split(",")
    curve = []
    for n in (int(s) for s in args.sizes.split(",")):
        manifest = simulate_cardiomyopathy_cohort(
            work / f"cohort_{n}", n=n, seed=args.seed, format="csv", overwrite=True
        )
        started = time.perf_counter()
        metrics = run_cardiomyopathy_study(
            manifest, work / f"run_{n}", tasks=tasks, inputs=inputs, profile=profile, figures=False
        )
        for task in tasks:
            row = {
                "n": n,
                "task": task,
                **{f"{name}_auc": metrics["table3"][task][name]["auc_pooled"] for name in inputs},
                **{f"{name}_ci95": metrics["table3"][task][name]["auc_ci95"] for name in inputs},
                "measurement_logistic_auc": metrics["baselines"][task]["auc_pooled"],
                "ecg_oracle_auc": metrics["oracle_ecg_auc"][task],
                "oracle_auc": metrics["oracle_auc"][task],
            }
            row.update(
                {
                    f"{name}_gap_to_ecg_oracle": round(row["ecg_oracle_auc"] - row[f"{name}_auc"], 3)
                    for name in inputs
                }
            )
            curve.append(row)
            print(json.dumps(row), flush=True)
        curve[-1]["study_runtime_s"] = round(time.perf_counter() - started, 1)
    report = {
        "benchmark": "cardiomyopathy_learning_curve",
        "synthetic": True,
        "profile": profile.name,
        "training": profile.training.to_dict(),
        "curve": curve,
    }
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
