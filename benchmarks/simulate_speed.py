"""Speed of the ECG simulator and of writing / reading a synthetic CRT cohort, plus its calibration.

Goals (issue 4): >= 200 ten-second 12-lead 500 Hz ECGs per second on one core; ``simulate crt`` with 196
patients in xlsx under 30 s; reading the whole cohort back under 15 s.

Usage::

    python benchmarks/simulate_speed.py [--n-ecgs 300] [--n 196] [--seed 0] [--json out.json]

Prints JSON ``{"simulate": {"ecgs_per_s", ...}, "crt_cohort": {"write_s", "read_s", "oracle_auc",
"response_rate", "guideline_rule_auc", "logistic_covariates_auc"}, ...}``. Run it with one thread
(``OMP_NUM_THREADS=1``) for the one-core figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import emit


def _simulate_rate(n_ecgs: int) -> dict:
    from cardiopredict.ecg.simulate import PHENOTYPES, simulate_ecg

    simulate_ecg("normal", seed=0)  # warm-up
    start = time.perf_counter()
    for k in range(n_ecgs):
        simulate_ecg(PHENOTYPES[k % len(PHENOTYPES)], seed=k)
    elapsed = time.perf_counter() - start
    return {"n_ecgs": n_ecgs, "seconds": round(elapsed, 3), "ecgs_per_s": round(n_ecgs / elapsed, 1)}


def _cohort(n: int, seed: int) -> dict:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cardiopredict.cohort.synthetic import oracle_auc, simulate_crt_cohort
    from cardiopredict.ecg.io import read_ecg

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = simulate_crt_cohort(Path(tmp) / "crt", n=n, seed=seed, format="xlsx")
        write_s = time.perf_counter() - start
        table = pd.read_csv(manifest)
        start = time.perf_counter()
        for column in ("ecg_pre", "ecg_post"):
            for relative in table[column]:
                read_ecg(manifest.parent / relative)
        read_s = time.perf_counter() - start
        y = table["response"].to_numpy()
        rule = ((table["qrs_duration_ms"] >= 150) & (table["lbbb"] == 1)).to_numpy(float)
        covariates = np.column_stack(
            [
                table["qrs_duration_ms"].fillna(table["qrs_duration_ms"].median()),
                table["lbbb"],
                table["sex"] == "F",
                table["lvef"],
            ]
        ).astype(float)
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        logistic = make_pipeline(StandardScaler(), LogisticRegression())
        proba = cross_val_predict(logistic, covariates, y, cv=folds, method="predict_proba")[:, 1]
        return {
            "n_patients": n,
            "n_ecgs": 2 * n,
            "seed": seed,
            "write_s": round(write_s, 2),
            "read_s": round(read_s, 2),
            "response_rate": round(float(y.mean()), 3),
            "oracle_auc": round(oracle_auc(manifest)["response"], 3),
            "guideline_rule_auc": round(float(roc_auc_score(y, rule)), 3),
            "logistic_covariates_auc": round(float(roc_auc_score(y, proba)), 3),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ecgs", type=int, default=300)
    parser.add_argument("--n", type=int, default=196)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "simulate": _simulate_rate(args.n_ecgs),
        "crt_cohort": _cohort(args.n, args.seed),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
