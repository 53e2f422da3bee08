"""Montage of every MyoPS case after orientation, for a person to check that the RV insertion point is at
the bottom (6 o'clock) of every crop.

One tile per case: the middle selected slice (base -> apex) as it enters the model (128x128 at 1.25 mm,
normalised by the myocardium), with the insertion point used for the rotation (yellow circle; derived from
the expert RV label, inferior junction) and the expert myocardium outline (green). The RV blood pool is
bright in LGE, so it should sit at the lower left of every LV.

Usage:
  python benchmarks/myops_montage.py --data ../shared/data/cmr/myops_multiseq_tengjia \
      --out docs/figures/myops_oriented.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder holding Train/CaseNNNN/")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/myops_oriented.png"))
    parser.add_argument("--columns", type=int, default=7)
    args = parser.parse_args(argv)

    from cardiopredict.cmr.geometry import oriented_points
    from cardiopredict.cmr.io import read_lge
    from cardiopredict.cmr.preprocess import preprocess_study
    from cardiopredict.plots.cmr import plot_oriented_montage

    cases = sorted(p for p in (args.data / "Train").glob("Case*") if p.is_dir())
    if not cases:
        raise SystemExit(f"no Train/CaseNNNN folders under {args.data}")
    tiles = []
    for case in cases:
        study = read_lge(case)
        arrays = preprocess_study(study, scar="labels", min_slices=1)
        if arrays.excluded:
            print(f"{study.patient_id}: excluded ({arrays.excluded})")
            continue
        # the middle slice that has its own insertion point
        own = [i for i in range(arrays.n_selected) if np.isfinite(arrays.insertion_point_rc[i]).all()]
        position = own[len(own) // 2]
        point = oriented_points(
            arrays.insertion_point_rc[position],
            arrays.lv_centre_rc[position],
            arrays.rotation_deg[position],
            spacing_mm=study.pixel_spacing_mm,
        )
        image = np.where(arrays.lge[position] > 0, arrays.lge[position], 0)
        k = int(arrays.slice_indices[position])
        tiles.append((f"{study.patient_id} s{k}", image, point, arrays.inputs[position, 0]))
    out = plot_oriented_montage(
        tiles,
        args.out,
        columns=args.columns,
        title="MyoPS after orientation: RV insertion point (yellow) should be at 6 o'clock; RV at lower left",
    )
    print(f"wrote {out} ({len(tiles)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
