"""Run a whole study on its default SYNTHETIC cohort and report AUCs vs the oracle, and the runtime.

Usage::

    python benchmarks/study_synthetic.py --study crt --profile paper --json crt.json
    python benchmarks/study_synthetic.py --study cardiomyopathy --profile paper --json cm.json

The cohort is simulated with the given seed into ``--work`` (default a temp folder); the run directory
is written there too, so its report can be opened afterwards. Every figure is on synthetic data.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort, simulate_crt_cohort
    from cardiopredict.config import StudyProfile
    from cardiopredict.studies.cardiomyopathy import run_cardiomyopathy_study
    from cardiopredict.studies.crt import run_crt_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=["crt", "cardiomyopathy"], required=True)
    parser.add_argument("--profile", choices=["paper", "demo", "quick"], default="paper")
    parser.add_argument("--n", type=int, default=None, help="cohort size (default: the study's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", default="xlsx")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix=f"cp-{args.study}-"))
    profile = getattr(StudyProfile, args.profile)(seed=args.seed)
    started = time.perf_counter()
    if args.study == "crt":
        manifest = simulate_crt_cohort(
            work / "cohort", n=args.n or 196, seed=args.seed, format=args.format, overwrite=True
        )
        simulated = time.perf_counter()
        metrics = run_crt_study(manifest, work / "run", profile=profile)
        summary = {
            name: {
                "auc_pooled": block["auc_pooled"],
                "auc_ci95": block["auc_ci95"],
                "auc_mean": block["auc_mean"],
                "auc_sd": block["auc_sd"],
            }
            for name, block in {**metrics["models"], **metrics["baselines"]}.items()
        }
        summary["oracle_auc"] = metrics["oracle_auc"]
        summary["delong"] = metrics["delong"]
    else:
        manifest = simulate_cardiomyopathy_cohort(
            work / "cohort", n=args.n or 500, seed=args.seed, format=args.format, overwrite=True
        )
        simulated = time.perf_counter()
        metrics = run_cardiomyopathy_study(manifest, work / "run", profile=profile)
        summary = {
            task: {name: block["auc_pooled"] for name, block in by_input.items()}
            | {
                "clinical_logistic": metrics["baselines"][task]["auc_pooled"],
                "oracle_ecg": metrics.get("oracle_ecg_auc", {}).get(task),
                "oracle": metrics["oracle_auc"].get(task),
            }
            for task, by_input in metrics["table3"].items()
        }
        summary["multiclass_macro_auc"] = {k: v["macro_auc"] for k, v in metrics["multiclass"].items()}
    report = {
        "study": args.study,
        "synthetic": True,
        "profile": profile.name,
        "training": profile.training.to_dict(),
        "n": metrics["n_patients"],
        "n_excluded": metrics["n_excluded"],
        "seed": args.seed,
        "simulate_s": round(simulated - started, 1),
        "study_runtime_s": metrics["runtime_s"],
        "results": summary,
        "run_dir": str(work / "run"),
    }
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
