"""The VA study on its default SYNTHETIC cohort (n = 235) and a learning curve: AUC, DeLong, oracle gap.

Usage::

    python benchmarks/va_study.py --sizes 235 --profile paper --json va.json
    python benchmarks/va_study.py --sizes 235,1000 --profile paper --json va_curve.json
    python benchmarks/va_study.py --sizes 235 --profile paper --learning-rate 1e-3 \
        --models scarnet_polar --lge-channel --json va_polar.json

``--learning-rate`` replaces the profile's (the paper's is 1e-4) for every model, ``scarnet_polar``'s own
1e-3 included; the profile is then named ``<profile>-lr<value>`` in the JSON and the run's config.json, so
no figure passes for the paper's protocol. Each model's rate is in ``learning_rate_by_model``.

Per size: simulate the cohort (DICOM + contours) with the seed, run the whole study (preprocessing with
the pipeline's scar method, scarnet on 5 patient-level folds with inner early stopping, the LVEF rule,
LVEF logistic, scar-feature logistic and Cox baselines on the same folds), and report pooled AUC with
CI for every score, DeLong p of the CNN vs LVEF <= 35 % and vs the scar-feature logistic, the C-index,
the oracle AUC and the CNN's gap to it, and the times (generation patients/s, study seconds). Every
figure is on SYNTHETIC data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cardiopredict._io import atomic_write_json, dumps_strict
from cardiopredict.cohort.va import simulate_va_cohort
from cardiopredict.config import LGEInputConfig, StudyProfile
from cardiopredict.studies.va import run_va_study


def one_size(
    n: int, *, seed: int, profile: StudyProfile, work: Path, scar: str, models: list[str], lge_channel: bool
) -> dict:
    started = time.perf_counter()
    manifest = simulate_va_cohort(work / f"cohort_{n}", n=n, seed=seed, overwrite=True)
    generated = time.perf_counter() - started
    metrics = run_va_study(
        manifest,
        work / f"run_{n}",
        models=models,
        config=LGEInputConfig(scar=scar, lge_channel=lge_channel),
        profile=profile,
    )
    scores = {**metrics["models"], **metrics["baselines"]}
    best = models[0]
    return {
        "n": n,
        "n_included": metrics["n_patients"],
        "n_excluded": metrics["n_excluded"],
        "event_rate": None,
        "auc_pooled": {name: block["auc_pooled"] for name, block in scores.items()},
        "auc_ci95": {name: block["auc_ci95"] for name, block in scores.items()},
        "table2": metrics["table2"],
        "delong": metrics["delong"],
        "c_index": (metrics.get("survival") or {}).get("c_index"),
        "oracle_auc": metrics.get("oracle_auc"),
        "gap_to_oracle": (metrics["oracle_auc"] - scores[best]["auc_pooled"])
        if metrics.get("oracle_auc")
        else None,
        "generation_patients_per_s": round(n / generated, 1),
        "study_runtime_s": metrics["runtime_s"],
        "learning_rate_by_model": metrics.get("learning_rate_by_model"),
        "run_dir": str(work / f"run_{n}"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="235", help="comma list of cohort sizes")
    parser.add_argument("--profile", choices=["paper", "demo", "quick"], default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scar", default="nsd")
    parser.add_argument(
        "--models", default="scarnet", help="comma list of scarnet, scarnet_pooled, scarnet_polar"
    )
    parser.add_argument(
        "--lge-channel", action="store_true", help="the normalised LGE as a third input channel"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="replaces the profile's learning rate"
    )
    parser.add_argument(
        "--weight-averaging", type=float, default=None, help="moving average of the weights, decay/epoch"
    )
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="cp-va-"))
    profile = getattr(StudyProfile, args.profile)(seed=args.seed).with_learning_rate(args.learning_rate)
    profile = profile.with_weight_averaging(args.weight_averaging)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    runs = [
        one_size(
            int(n),
            seed=args.seed,
            profile=profile,
            work=work,
            scar=args.scar,
            models=models,
            lge_channel=args.lge_channel,
        )
        for n in args.sizes.split(",")
    ]
    for run in runs:
        manifest = pd.read_csv(work / f"cohort_{run['n']}" / "manifest.csv")
        run["event_rate"] = float(manifest["va_event"].mean())
    report = {
        "benchmark": "va_study",
        "synthetic": True,
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile.name,
        "training": profile.training.to_dict(),
        "seed": args.seed,
        "scar_method": args.scar,
        "lge_channel": args.lge_channel,
        "runs": runs,
    }
    print(dumps_strict(report))
    if args.json:
        atomic_write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
