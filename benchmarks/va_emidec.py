"""Real-data check of the VA pipeline on EMIDEC: myocardial infarction vs normal from the pipeline's scar.

EMIDEC (``$CARDIOPREDICT_DATA/cmr/emidec``; 100 patients, 33 normal / 67 with infarction, 256 x 256 PNG
LGE slices with expert myocardium/infarct labels, clinical table with LVEF ``FEVG``) has no VA outcome.
This benchmark runs the whole VA study — preprocessing, the pipeline's own scar method inside the
EXPERT myocardium (the expert infarct label is never used), the slice CNN, LVEF <= 35 % and the LVEF and
scar-feature logistic models on the same patient-level folds — with ``va_event`` = 1 for an infarction
patient. It tells whether the pipeline's scar maps carry the signal a CNN can use on real images.

ASSUMPTIONS, said in the JSON too: the PNGs carry no spacing (they were resized non-uniformly to
256 x 256 from about 1.4 mm pixels), so 1.4 mm pixels and 10 mm slices are ASSUMED; EMIDEC has no RV
label, so the slices are not rotated to the insertion point (orientation off).

The cases are linked (symlinks, nothing copied) into a work folder, one per patient, so that the
reader sees one case per folder with its masks beside it.

Usage:
  python benchmarks/va_emidec.py --out runs/va_emidec --json va_emidec.json [--profile paper|demo|quick]
      [--models scarnet,scarnet_pooled,scarnet_polar] [--lge-channel]
      [--scar hysteresis:baseline=remote] [--learning-rate 1e-3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cardiopredict._io import atomic_write_json, dumps_strict
from cardiopredict.config import LGEInputConfig, StudyProfile
from cardiopredict.studies.va import run_va_study

ASSUMED_SPACING_MM = 1.4
ASSUMED_THICKNESS_MM = 10.0


def data_root() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("CARDIOPREDICT_DATA", default)) / "cmr" / "emidec"


def build_manifest(emidec: Path, work: Path) -> Path:
    """One folder per case under ``work/cases`` (symlinks to the PNG slices and masks) and a manifest."""
    clinical = pd.read_csv(emidec / "clinical" / "emidec_train_clinical_with_ids.DERIVED.csv")
    clinical = clinical.set_index("case_id")
    rows = []
    for split in ("train", "val"):
        for image in sorted((emidec / "png_256" / split).glob("Case_*_slice*.png")):
            case = image.name.split("_slice")[0]
            for sub, source in (
                (split, image),
                (f"{split}annot", emidec / "png_256" / f"{split}annot" / image.name),
            ):
                link = work / "cases" / case / sub / image.name
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    link.symlink_to(source)
            rows.append((case, f"cases/{case}/{split}"))
    cases = pd.DataFrame(rows, columns=["patient_id", "lge"]).drop_duplicates("patient_id")
    cases["va_event"] = cases["patient_id"].map(lambda c: int(clinical.loc[c, "emidec_class"] == "P"))
    cases["lvef"] = cases["patient_id"].map(lambda c: clinical.loc[c, "FEVG"])
    cases["age"] = cases["patient_id"].map(lambda c: clinical.loc[c, "age"])
    manifest = work / "manifest.csv"
    cases.to_csv(manifest, index=False)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=data_root())
    parser.add_argument("--out", type=Path, default=Path("runs/va_emidec"))
    parser.add_argument("--profile", choices=("paper", "demo", "quick"), default="paper")
    parser.add_argument("--scar", default="hysteresis", help="the pipeline's scar method (never the labels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--models", default="scarnet", help="comma list of scarnet, scarnet_pooled, scarnet_polar"
    )
    parser.add_argument(
        "--lge-channel", action="store_true", help="the normalised LGE as a third input channel"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="replaces the profile's learning rate"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "png_256").is_dir():
        print(f"EMIDEC png_256 not found under {args.data}; set CARDIOPREDICT_DATA", file=sys.stderr)
        return 2
    if args.scar.startswith("labels"):
        parser.error("--scar labels would use the expert infarct label; choose the pipeline's own method")
    started = time.perf_counter()
    manifest = build_manifest(args.data, args.out / "work")
    profile = getattr(StudyProfile, args.profile)(seed=args.seed).with_learning_rate(args.learning_rate)
    config = LGEInputConfig(
        scar=args.scar,
        pixel_spacing_mm=ASSUMED_SPACING_MM,
        slice_thickness_mm=ASSUMED_THICKNESS_MM,
        orient=False,
        lge_channel=args.lge_channel,
    )
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    metrics = run_va_study(
        manifest, args.out / "run", models=models, config=config, profile=profile, progress=True
    )
    summary = {
        "benchmark": "va_emidec",
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "EMIDEC png_256 (100 patients: 33 normal, 67 myocardial infarction), REAL",
        "task": "infarction (va_event=1) vs normal, from the pipeline's scar inside the expert myocardium",
        "assumptions": {
            "pixel_spacing_mm": ASSUMED_SPACING_MM,
            "slice_thickness_mm": ASSUMED_THICKNESS_MM,
            "orientation": "off (EMIDEC has no RV label)",
        },
        "scar_method": metrics.get("scar_method"),
        "lge_channel": args.lge_channel,
        "profile": profile.name,
        "learning_rate_by_model": metrics.get("learning_rate_by_model"),
        "n_patients": metrics["n_patients"],
        "n_excluded": metrics["n_excluded"],
        "auc_pooled": {
            name: {
                "auc": block["auc_pooled"],
                "ci95": block["auc_ci95"],
                "fold_auc": [f["auc"] for f in block["folds"]],
            }
            for name, block in {**metrics["models"], **metrics["baselines"]}.items()
        },
        "delong": metrics["delong"],
        "seconds": round(time.perf_counter() - started, 1),
        "command": "python benchmarks/va_emidec.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(dumps_strict(summary))
    if args.json:
        atomic_write_json(args.json, summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
