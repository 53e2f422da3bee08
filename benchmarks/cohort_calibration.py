"""Calibration of the SYNTHETIC cohorts: what the simple baselines, the oracle and its parts reach.

Usage::

    python benchmarks/cohort_calibration.py --n 196 --seeds 0,1,2 --json crt_calibration.json
    python benchmarks/cohort_calibration.py --n 196 --seeds 0 --ecg-features 600

For each seed a CRT cohort is written (csv, same generator as ``simulate crt``) and scored: response
rate, oracle AUC (true probabilities), the guideline rule (``qrs_duration_ms >= 150`` and ``lbbb`` from the
manifest) and a logistic regression on the manifest covariates (``qrs_duration_ms, lbbb, sex, lvef``;
standardised, 5-fold stratified CV, out-of-fold AUC). ``--ecg-features N`` adds a logistic regression on
measurements the project takes from the simulated ECGs themselves (pre- and post-implant QRS duration and
area, fragmentation, LBBB by Strauss and AHA, sex) for N patients: evidence that the response lives in the
waveforms, beyond what the covariates carry.

Cardiomyopathy: for each seed a cohort of ``--cm-n`` patients is written and both of its oracles are
scored — the posterior from every trait and the ECG oracle (the posterior from what the simulated ECG
shows, ``oracle.csv`` columns ``p_ecg_*``) — beside the trait-subset ceilings on 50 000 draws.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def _cv_logistic_auc(X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_predict(model, X, y, cv=folds, method="predict_proba")[:, 1]
    return round(float(roc_auc_score(y, scores)), 3)


def crt_cohort_figures(n: int, seed: int, work: Path) -> dict:
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from cardiopredict.cohort.synthetic import oracle_auc, simulate_crt_cohort

    manifest = simulate_crt_cohort(work / f"crt_{n}_{seed}", n=n, seed=seed, format="csv", overwrite=True)
    table = pd.read_csv(manifest)
    y = table["response"].to_numpy()
    rule = ((table["qrs_duration_ms"] >= 150) & (table["lbbb"] == 1)).astype(float)
    covariates = np.column_stack(
        [table["qrs_duration_ms"], table["lbbb"], table["sex"] == "F", table["lvef"]]
    ).astype(float)
    return {
        "n": n,
        "seed": seed,
        "responders": round(float(y.mean()), 3),
        "oracle_auc": round(oracle_auc(manifest)["response"], 3),
        "rule_auc": round(float(roc_auc_score(y, rule)), 3),
        "covariates_logistic_auc": _cv_logistic_auc(covariates, y),
    }


def ecg_feature_figures(n: int, seed: int) -> dict:
    """Logistic regression on ECG measurements of ``n`` simulated CRT patients (drawn as the cohort is)."""
    from sklearn.metrics import roc_auc_score

    from cardiopredict.cohort.synthetic import draw_crt_cohort, simulate_crt_ecgs
    from cardiopredict.ecg.delineation import delineate
    from cardiopredict.ecg.measurements import measure
    from cardiopredict.errors import CardioPredictError

    patients, streams = draw_crt_cohort(n, seed=seed)
    rows, failures = [], 0
    for k in range(n):
        row = patients.iloc[k]
        _, pre, post = simulate_crt_ecgs(row, streams[k], patient_id=f"crt{k + 1:04d}")
        try:
            a = measure(pre, delineate(pre), sex=row["sex"])
            b = measure(post, delineate(post), sex=row["sex"])
        except CardioPredictError:  # counted and reported: a failure here is a finding, not noise
            failures += 1
            rows.append([np.nan] * 9)
            continue
        rows.append(
            [
                a.qrs_duration_ms,
                a.qrs_area_uvs,
                a.fragmented_qrs,
                a.lbbb_strauss,
                a.lbbb_aha,
                row["sex"] == "F",
                b.qrs_duration_ms,
                b.qrs_area_uvs,
                a.qrs_duration_ms - b.qrs_duration_ms,
            ]
        )
    X = np.nan_to_num(np.array(rows, dtype=float))
    y = patients["response"].to_numpy()
    return {
        "n": n,
        "oracle_auc": round(float(roc_auc_score(y, patients["p_response"])), 3),
        "ecg_measurements_logistic_auc": _cv_logistic_auc(X, y),
        "pre_implant_measurements_logistic_auc": _cv_logistic_auc(X[:, :6], y),
        "measurement_failures": failures,
    }


def cardiomyopathy_cohort_oracles(n: int, seed: int, work: Path) -> dict:
    """Both oracles of a written cardiomyopathy cohort: every trait, and what the ECG shows."""
    from cardiopredict.cohort.synthetic import oracle_auc, simulate_cardiomyopathy_cohort

    manifest = simulate_cardiomyopathy_cohort(
        work / f"cm_{n}_{seed}", n=n, seed=seed, format="csv", overwrite=True
    )
    return {
        "n": n,
        "seed": seed,
        "oracle_auc": {k: round(v, 3) for k, v in oracle_auc(manifest).items()},
        "ecg_oracle_auc": {k: round(v, 3) for k, v in oracle_auc(manifest, source="ecg").items()},
    }


def cardiomyopathy_ceilings(*, n: int = 50_000, seed: int = 0) -> dict:
    """Pairwise AUCs of the exact class posterior restricted to what each input can show.

    The cohort's classes differ in traits an ECG shows (rhythm, conduction, voltage, QRS width,
    fragmentation, T waves) and in traits it does not (LVEF, age, sex). Recomputing the Bayes posterior
    from a subset of traits gives the best AUC an input seeing only that subset can reach.
    """
    from sklearn.metrics import roc_auc_score

    from cardiopredict.cohort import synthetic

    patients = synthetic.draw_cardiomyopathy_patients(n, rng=np.random.default_rng(seed))
    subsets = {
        "oracle (all traits)": None,
        "ECG-visible (no LVEF, age, sex)": {"lvef", "age", "sex"},
        "QRS-window-visible (conduction, voltage, QRS width, fragmentation)": {
            "lvef", "age", "sex", "heart_rate_bpm", "av_disease", "ectopy", "t_inversion",
        },
    }  # fmt: skip
    classes = synthetic.CM_CLASSES
    every = [*synthetic.CM_GAUSSIANS, *synthetic.CM_CATEGORICALS]
    result = {}
    for label, hidden in subsets.items():
        log_lik = synthetic.cardiomyopathy_trait_log_likelihood(
            patients, [name for name in every if not hidden or name not in hidden]
        )
        aucs = {}
        for a, b in (("GEN", "MYO"), ("GEN", "SARC"), ("MYO", "SARC")):
            rows = patients["diagnosis"].isin([a, b]).to_numpy()
            score = log_lik[rows, classes.index(a)] - log_lik[rows, classes.index(b)]
            y = (patients["diagnosis"][rows] == a).to_numpy()
            aucs[f"{a.lower()}-vs-{b.lower()}"] = round(float(roc_auc_score(y, score)), 3)
        result[label] = aucs
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=196)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cm-n", type=int, default=500, help="cardiomyopathy cohort size")
    parser.add_argument("--ecg-features", type=int, default=0, help="patients for the ECG-measurement model")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cp-calibration-"))
    seeds = [int(s) for s in args.seeds.split(",")]
    report: dict = {
        "benchmark": "cohort_calibration",
        "synthetic": True,
        "crt": [crt_cohort_figures(args.n, seed, work) for seed in seeds],
    }
    report["cardiomyopathy_ceilings"] = cardiomyopathy_ceilings(seed=seeds[0])
    report["cardiomyopathy_cohorts"] = [
        cardiomyopathy_cohort_oracles(args.cm_n, seed, work) for seed in seeds
    ]
    if args.ecg_features:
        report["crt_ecg_measurements"] = ecg_feature_figures(args.ecg_features, seeds[0])
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        from cardiopredict._io import atomic_write_text

        atomic_write_text(args.json, text + "\n")
    return report


if __name__ == "__main__":
    main()
