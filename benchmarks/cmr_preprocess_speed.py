"""Speed of the LGE preprocessing (masks, scar segmentation, normalisation, rotation, resampling, crop).

Times :func:`cardiopredict.cmr.preprocess.preprocess_study` on one thread, per scar method, over every
slice of every study (reading the files is timed separately and not included). With ``--data`` the
studies are MyoPS cases (``DIR/Train/CaseNNNN/``); without it, synthetic phantoms (192x192, 1.4 mm).

Usage:
  python benchmarks/cmr_preprocess_speed.py --data ../shared/data/cmr/myops_multiseq_tengjia --json out.json
  python benchmarks/cmr_preprocess_speed.py --phantoms 40 --json out.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cardiopredict._io import atomic_write_json, dumps_strict


def load_studies(data: Path | None, n_phantoms: int) -> tuple[list, float, str]:
    started = time.perf_counter()
    if data is not None:
        from cardiopredict.cmr.io import read_lge

        cases = sorted(p for p in (data / "Train").glob("Case*") if p.is_dir())
        if not cases:
            raise SystemExit(f"no Train/CaseNNNN folders under {data}")
        studies = [read_lge(case) for case in cases]
        source = f"MyoPS {data}"
    else:
        from cardiopredict.cmr.simulate import simulate_lge_phantom

        studies = [
            simulate_lge_phantom(n_slices=8, rotation_deg=float(r), territory="LAD", seed=i)
            for i, r in enumerate(np.linspace(-180, 180, n_phantoms, endpoint=False))
        ]
        source = f"{n_phantoms} phantoms"
    return studies, time.perf_counter() - started, source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="folder holding Train/CaseNNNN/ (MyoPS layout)")
    parser.add_argument("--phantoms", type=int, default=40, help="number of phantoms without --data")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many passes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from cardiopredict.cmr.preprocess import preprocess_study

    studies, read_s, source = load_studies(args.data, args.phantoms)
    n_slices = sum(s.n_slices for s in studies)
    methods = {}
    for name, options in {
        "nsd5": {"scar": "nsd"},
        "fwhm": {"scar": "fwhm"},
        "hysteresis": {"scar": "hysteresis"},
        "labels": {"scar": "labels"},
    }.items():
        best = np.inf
        for _ in range(args.repeats):
            started = time.perf_counter()
            results = [preprocess_study(study, **options) for study in studies]
            best = min(best, time.perf_counter() - started)
        methods[name] = {
            "seconds": round(best, 3),
            "slices_per_s": round(n_slices / best, 1),
            "selected_slices": int(sum(r.n_selected for r in results)),
            "excluded_patients": int(sum(r.excluded is not None for r in results)),
        }
    result = {
        "source": source,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "studies": len(studies),
        "slices": n_slices,
        "image_shape_median": [int(np.median([s.shape[i] for s in studies])) for i in (0, 1)],
        "read_seconds": round(read_s, 3),
        "methods": methods,
    }
    text = dumps_strict(result)
    if args.json:
        atomic_write_json(args.json, result)
    print(text, file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
