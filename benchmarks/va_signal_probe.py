"""Where the VA signal lives in the model input, and which slice-CNN variants reach it (SYNTHETIC).

Builds ``simulate_va_cohort(n, seed)`` through the study's own input builder (nsd scar, LGE kept as a
third channel so both inputs can be probed), then, on 5 stratified folds:

* **probes** (scikit-learn logistic regressions, standardised): the handcrafted scar features; the
  number of extra connected scar pieces per patient in the binary scar mask (a gray-zone channel that
  crosses the dense core splits it: ``gaps``); a 10-bin histogram of the normalised LGE inside the
  myocardium; the true number of channels and the oracle, for reference;
* **CNN variants** (``--variants``): ``run_cv`` of ``scarnet`` with the options of :data:`VARIANTS`,
  inner early stopping, 1 torch thread, folds of ``make_folds(seed=0)``; deterministic per seed.
  ``easy_*`` variants train on a noise-free label computed from the images (top quarter of the LGE
  histogram logistic fitted on all patients): a check of how well the encoder learns an image feature
  at this sample size, not a study result.

Usage::

    python benchmarks/va_signal_probe.py --seed 1 --json probe_s1.json
    python benchmarks/va_signal_probe.py --seed 1 --variants base,c3mean,easy_m3mean_b8 --json cnn_s1.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cardiopredict._io import atomic_write_json, dumps_strict

MEAN = {"spatial_pooling": "mean", "pooling": "mean"}
VARIANTS: dict[str, tuple[int, bool, dict[str, Any], dict[str, Any]]] = {
    # name: (input channels, LGE masked to the myocardium, scarnet options, training options over
    # lr 1e-3, <= 40 epochs, patience 8, batch 32, inner early stopping)
    "base": (2, False, {}, {}),
    "s2mean": (2, False, {"stem_stride": 2, **MEAN}, {}),
    "s4mean_rot": (2, False, {**MEAN, "augment_rotation_deg": 180.0}, {}),
    "c3base": (3, False, {}, {}),
    "c3mean": (3, False, MEAN, {}),
    "c3mean_ord": (3, False, {"spatial_pooling": "mean"}, {}),
    "c3mean_none60": (3, False, MEAN, {"early_stopping": "none", "max_epochs": 60}),
    "c3mean_lr3_none60": (
        3,
        False,
        MEAN,
        {"early_stopping": "none", "max_epochs": 60, "learning_rate": 3e-3},
    ),
    "m3sum_p20": (3, True, {"spatial_pooling": "mean", "pooling": "sum"}, {"max_epochs": 80, "patience": 20}),
    "m3mean_p20": (3, True, MEAN, {"max_epochs": 80, "patience": 20}),
    "m3mean_b8": (3, True, MEAN, {"batch_size": 8}),
    "m3px8_b8": (3, True, {**MEAN, "pixel_features": 8}, {"batch_size": 8}),
    "polar_c3mean_e100": (
        3,
        False,
        {"representation": "polar", "pooling": "mean"},
        {"max_epochs": 100, "patience": 10},
    ),
    "polar_mean_e100": (
        2,
        False,
        {"representation": "polar", "pooling": "mean"},
        {"max_epochs": 100, "patience": 10},
    ),
    "easy_base2ch": (2, False, {}, {}),
    "easy_m3mean": (3, True, MEAN, {}),
    "easy_m3mean_b8": (3, True, MEAN, {"batch_size": 8}),
    "easy_m3px8_b8": (3, True, {**MEAN, "pixel_features": 8}, {"batch_size": 8}),
}


def build(n: int, seed: int, work: Path) -> dict[str, Any]:
    from cardiopredict.cohort.va import simulate_va_cohort
    from cardiopredict.config import LGEInputConfig
    from cardiopredict.features import build_lge_inputs

    manifest = simulate_va_cohort(work / "cohort", n=n, seed=seed, overwrite=True)
    table = pd.read_csv(manifest)
    for column in ("lge", "contours"):
        table[column] = [str(manifest.parent / path) for path in table[column]]
    config = LGEInputConfig(scar="nsd", lge_channel=True)
    cohort = build_lge_inputs(table, config=config, cache_dir=work / "cache")
    oracle = pd.read_csv(manifest.parent / "oracle.csv").set_index("patient_id").loc[cohort.patient_ids]
    return {
        "slices": cohort.arrays["lge.slices"],
        "mask": cohort.arrays["lge.slice_mask"],
        "scar": cohort.arrays["lge.scar_features"].astype(float),
        "y": cohort.table["va_event"].to_numpy(int),
        "pids": cohort.patient_ids.astype(str),
        "oracle": oracle,
    }


def scar_gaps(slices: np.ndarray, mask: np.ndarray, *, min_pixels: int = 8) -> np.ndarray:
    """Per patient: sum over slices of (connected scar pieces of >= min_pixels) - 1."""
    gaps = np.zeros(len(slices))
    for i in range(len(slices)):
        for j in range(int(mask[i].sum())):
            labels, _ = ndimage.label(slices[i, j, 1] > 0.5)
            sizes = np.bincount(labels.ravel())[1:]
            gaps[i] += max(0, int((sizes >= min_pixels).sum()) - 1)
    return gaps


def lge_histogram(slices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per patient: log(1 + count) of 10 LGE bins inside the myocardium, and log(1 + myocardium pixels)."""
    rows = []
    for i in range(len(slices)):
        k = int(mask[i].sum())
        myo = slices[i, :k, 0] > 0.5
        counts, _ = np.histogram(slices[i, :k, 2][myo], bins=10, range=(0, 1))
        rows.append(np.r_[counts, myo.sum()])
    return np.log1p(np.asarray(rows, dtype=float))


def logistic_oof(x: np.ndarray, y: np.ndarray, *, c: float = 1.0) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]


def probes(data: dict[str, Any]) -> dict[str, float]:
    y, oracle = data["y"], data["oracle"]
    gaps = scar_gaps(data["slices"], data["mask"])
    histogram = lge_histogram(data["slices"], data["mask"])
    inputs = {
        "scar_features": data["scar"],
        "mask_gap_count": gaps[:, None],
        "scar_features+gaps": np.c_[data["scar"], gaps],
        "lge_histogram_in_myocardium": histogram,
        "true_n_channels": oracle[["n_channels"]].to_numpy(float),
    }
    result = {name: round(roc_auc_score(y, logistic_oof(x, y, c=0.1)), 3) for name, x in inputs.items()}
    result["oracle"] = round(roc_auc_score(y, oracle["p_va_event"]), 3)
    result["corr_gaps_true_channels"] = round(float(np.corrcoef(gaps, oracle["n_channels"])[0, 1]), 3)
    return result


def easy_label(data: dict[str, Any]) -> np.ndarray:
    histogram = lge_histogram(data["slices"], data["mask"])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    score = model.fit(histogram, data["y"]).predict_proba(histogram)[:, 1]
    return (score > np.quantile(score, 0.75)).astype(int)


def cnn_variant(name: str, data: dict[str, Any]) -> dict[str, Any]:
    import torch

    from cardiopredict.config import TrainingConfig
    from cardiopredict.training.crossval import make_folds, run_cv

    torch.set_num_threads(1)
    channels, masked, options, training = VARIANTS[name]
    y = easy_label(data) if name.startswith("easy_") else data["y"]
    slices = np.ascontiguousarray(data["slices"][:, :, :channels])
    if masked:  # the LGE channel inside the myocardium only
        slices[:, :, 2] *= slices[:, :, 0]
    folds = make_folds(y, data["pids"], n_folds=5, seed=0)
    config = TrainingConfig(**{"learning_rate": 1e-3, "max_epochs": 40, "patience": 8, **training})
    started = time.perf_counter()
    result = run_cv(
        {"slices": slices, "slice_mask": data["mask"]},
        y,
        folds,
        patient_ids=data["pids"],
        model="scarnet",
        model_kwargs={"in_channels": channels, **options},
        config=config,
    )
    per_fold = [roc_auc_score(y[folds == k], result.oof_scores[folds == k]) for k in np.unique(folds)]
    return {
        "auc_pooled": round(roc_auc_score(y, result.oof_scores), 3),
        "auc_folds": [round(a, 3) for a in per_fold],
        "best_epochs": result.best_epochs,
        "channels": channels,
        "lge_masked": masked,
        "options": options,
        "training": config.to_dict(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--n", type=int, default=235)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="", help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = build(args.n, args.seed, Path(tmp))
    report: dict[str, Any] = {
        "data": f"SYNTHETIC simulate_va_cohort(n={args.n}, seed={args.seed}), nsd scar",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_included": len(data["y"]),
        "event_rate": round(float(data["y"].mean()), 3),
        "probes_auc": probes(data),
        "cnn": {name: cnn_variant(name, data) for name in filter(None, args.variants.split(","))},
    }
    print(dumps_strict(report, indent=2))
    if args.json:
        atomic_write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
