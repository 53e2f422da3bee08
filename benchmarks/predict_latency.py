"""Latency of scoring ONE new patient with a trained fold ensemble (read + preprocess + ensemble).

Usage::

    python benchmarks/predict_latency.py --json predict.json

Trains the CRT ``combined`` model (5 folds, one epoch) on a small SYNTHETIC cohort (the weights do
not matter for latency), then scores single-patient manifests end to end with no feature cache, the
way ``cardiopredict predict`` runs for a new patient. The first call (imports, model load) is reported
separately from the steady-state calls. Goal (issue 5): under 200 ms per patient.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    import pandas as pd

    from cardiopredict.cohort.synthetic import simulate_crt_cohort
    from cardiopredict.config import StudyProfile, TrainingConfig
    from cardiopredict.studies.crt import run_crt_study
    from cardiopredict.studies.predict import predict_manifest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="xlsx", help="file format of the new patients' ECGs")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cp-predict-"))
    profile = StudyProfile(
        name="latency", training=TrainingConfig(n_folds=5, max_epochs=1, patience=1), bootstrap=10
    )
    manifest = simulate_crt_cohort(work / "cohort", n=40, seed=1, format=args.format, overwrite=True)
    run_crt_study(manifest, work / "run", inputs=("combined",), profile=profile, figures=False)
    model_dir = work / "run" / "models" / "combined"

    table = pd.read_csv(manifest, dtype={"patient_id": str})
    single = []
    for k in range(args.repeats + 1):
        row = table.iloc[[k % len(table)]].drop(columns=["response"])
        path = work / "cohort" / f"new_{k}.csv"
        row.to_csv(path, index=False)
        single.append(path)

    started = time.perf_counter()
    predict_manifest(model_dir, single[0])
    first_ms = (time.perf_counter() - started) * 1000
    times = []
    for path in single[1:]:
        started = time.perf_counter()
        result = predict_manifest(model_dir, path)
        times.append((time.perf_counter() - started) * 1000)
        assert result["status"].iloc[0] == "scored", result
    report = {
        "benchmark": "predict_latency",
        "synthetic": True,
        "format": args.format,
        "first_call_ms": round(first_ms, 1),
        "per_patient_ms": {
            "median": round(statistics.median(times), 1),
            "p90": round(sorted(times)[int(0.9 * (len(times) - 1))], 1),
            "min": round(min(times), 1),
        },
        "repeats": len(times),
        "model": "CRT combined: 5 fold ECGCompositeNets (1 epoch; weights do not matter)",
        "goal_ms": 200,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
