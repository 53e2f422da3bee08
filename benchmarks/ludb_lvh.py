"""Real-data check of the CRT engine: LVH from the QRS window on LUDB, CNN vs voltage criteria.

The same pipeline as the CRT study (read → delineate → 250-sample QRS window → ECGNet, patient-level
stratified k-fold, inner early stopping) on LUDB records 1–150, label = "left ventricular hypertrophy"
in ``ludb.csv``. Baselines on the same folds: Sokolow-Lyon voltage (SV1 + max(RV5, RV6), mV) and the
Cornell voltage (RaVL + SV3, mV) scaled by its sex-specific threshold (2.8 mV men, 2.0 mV women), both
used as continuous scores. The AUCs are reported whatever they are.

Usage::

    python benchmarks/ludb_lvh.py --ludb ../shared/data/ecg/ludb --json ludb_lvh.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def load(ludb: Path, window_samples: int = 250) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-record table (id, label, sex, measurements) and QRS windows of LUDB."""
    from cardiopredict import read_ecg
    from cardiopredict.ecg import delineate
    from cardiopredict.ecg.measurements import measure
    from cardiopredict.ecg.windows import qrs_window

    info = pd.read_csv(ludb / "ludb.csv")
    info.columns = [c.strip() for c in info.columns]
    rows, windows = [], []
    for _, row in info.iterrows():
        record_id = int(row["ID"])
        header = ludb / "data" / f"{record_id}.hea"
        if not header.is_file():
            continue
        sex = str(row["Sex"]).strip().upper()[:1] or None
        record = read_ecg(header)
        beats = delineate(record)
        windows.append(qrs_window(record, beats, n_samples=window_samples))
        m = measure(record, beats, sex=sex)
        rows.append(
            {
                "patient_id": str(record_id),
                "lvh": int("left ventricular hypertrophy" in str(row["Hypertrophies"]).lower()),
                "sex": sex,
                "sokolow_lyon_mv": m.sokolow_lyon_mv,
                "cornell_mv": m.cornell_mv,
            }
        )
    return pd.DataFrame(rows), np.stack(windows).astype(np.float32)


def main(argv: list[str] | None = None) -> dict:
    from cardiopredict.config import TrainingConfig
    from cardiopredict.evaluation.metrics import delong_test, summarize
    from cardiopredict.training.crossval import make_folds, run_cv

    default = Path(
        os.environ.get("CARDIOPREDICT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ludb", type=Path, default=default / "ecg" / "ludb")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.ludb / "data").is_dir():
        sys.exit(f"LUDB not found at {args.ludb}; pass --ludb or set CARDIOPREDICT_DATA")

    started = time.perf_counter()
    table, windows = load(args.ludb)
    y = table["lvh"].to_numpy()
    ids = table["patient_id"].to_numpy()
    folds = make_folds(y, ids, n_folds=args.folds, seed=args.seed)
    config = TrainingConfig(n_folds=args.folds, max_epochs=args.max_epochs, seed=args.seed)
    result = run_cv(
        {"ecg": windows}, y, folds, patient_ids=list(ids), model="ecgnet",
        model_kwargs={"input_key": "ecg", "n_samples": windows.shape[-1]}, config=config,
    )  # fmt: skip
    threshold = np.where(table["sex"] == "F", 2.0, 2.8)
    predictions = pd.DataFrame(
        {
            "patient_id": ids,
            "fold": folds,
            "y_true": y,
            "score_ecgnet": result.oof_scores,
            "score_sokolow_lyon": table["sokolow_lyon_mv"].to_numpy(dtype=float),
            "score_cornell": table["cornell_mv"].to_numpy(dtype=float) / threshold,
        }
    )
    report = {
        "data": str(args.ludb),
        "records": len(y),
        "lvh": int(y.sum()),
        "protocol": config.to_dict(),
        "methods": {
            name: summarize(
                predictions, f"score_{name}", threshold=0.5 if name == "ecgnet" else None, seed=args.seed
            )
            for name in ("ecgnet", "sokolow_lyon", "cornell")
        },
        "delong": {
            f"ecgnet_vs_{name}": delong_test(
                y, predictions["score_ecgnet"].to_numpy(), predictions[f"score_{name}"].to_numpy()
            )
            for name in ("sokolow_lyon", "cornell")
        },
        "runtime_s": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
