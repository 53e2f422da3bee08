"""Threshold scar segmentation vs the expert scar label, inside the expert myocardium (MyoPS, EMIDEC).

For every case and every method (n-SD above remote for n = 2, 3, 5, 6; FWHM of the maximum, with the
baseline at zero (classic) or at the remote mean; hysteresis from 80 % to 45 % of the maximum with a
1.5 mm opening, same two baselines) the scar is segmented on
the LGE image inside the expert myocardium and compared with the expert scar label (MyoPS 2221; EMIDEC
infarct 3 + no-reflow 4):

* Dice per case, pooled over the case's slices (a case without expert scar scores 1 when the method
  finds none, else 0);
* scar burden agreement (Bland-Altman): method minus expert burden, % of the myocardium, mean and SD;
* seconds per slice of the segmentation alone (reading excluded), one thread;
* for MyoPS the Dice mean also per half: odd-numbered cases (where the ``"hysteresis"`` parameters were
  chosen) and even-numbered cases (held out).

Layouts (``--dataset auto`` tells them apart):
  myops   DIR/Train/CaseNNNN/CaseNNNN_LGE.nii.gz with CaseNNNN_gd.nii.gz beside it
  emidec  DIR/**/<case>/Images/<case>.nii.gz with <case>/Contours/<case>.nii.gz, or the png_256 layout
          DIR/{train,val}/Case_XNNN_sliceKKK.png with masks in DIR/{train,val}annot/. The PNGs carry no
          spacing (they were resized to 256 x 256): EMIDEC_PNG_SPACING_MM and EMIDEC_PNG_THICKNESS_MM are
          ASSUMED; they only scale the cleanup areas (and the learned model's crop).

Usage:
  python benchmarks/scar_myops.py --data ../shared/data/cmr/myops_multiseq_tengjia --json out.json
  python benchmarks/scar_myops.py --data ../shared/data/cmr/emidec --dataset emidec --json out.json
  python benchmarks/scar_myops.py --data ../shared/data/cmr/myops_multiseq_tengjia --sweep --json sweep.json
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cardiopredict._io import atomic_write_json, dumps_strict

METHODS: dict[str, dict] = {
    "nsd2": {"method": "nsd", "n_sd": 2.0},
    "nsd3": {"method": "nsd", "n_sd": 3.0},
    "nsd5": {"method": "nsd", "n_sd": 5.0},
    "nsd6": {"method": "nsd", "n_sd": 6.0},
    "fwhm": {"method": "fwhm"},
    "fwhm_remote": {"method": "fwhm", "baseline": "remote"},
    "hysteresis": {"method": "hysteresis"},
    "hysteresis_remote": {"method": "hysteresis", "baseline": "remote"},
}
"""Benchmark name -> scar_method spec and parameters."""
EMIDEC_PNG_SPACING_MM = (1.4, 1.4)
"""ASSUMED pixel spacing of EMIDEC png_256 slices (the NIfTI originals are 1.4-1.5 mm before resizing)."""
EMIDEC_PNG_THICKNESS_MM = 10.0


def sweep_methods() -> dict[str, dict]:
    """The grid the ``"hysteresis"`` defaults were chosen from (best Dice mean on the odd cases).

    Seed fraction 0.6/0.7/0.8 x grow fraction 0.40/0.45/0.50 x opening 0/1.5 mm x minimum component
    5/40 mm² (36 settings).
    """
    grid = {}
    for high in (0.6, 0.7, 0.8):
        for low in (0.40, 0.45, 0.50):
            for opening in (0.0, 1.5):
                for component in (5.0, 40.0):
                    grid[f"hyst_{high:g}_{low:g}_open{opening:g}_min{component:g}"] = {
                        "method": "hysteresis",
                        "fractions": (high, low),
                        "opening_radius_mm": opening,
                        "min_component_mm2": component,
                    }
    return grid


def _split(case: str, dataset: str) -> str | None:
    """MyoPS ``"odd"`` or ``"even"`` by the case number's last digit (the tuning / held-out halves).

    None for other datasets: the ``"hysteresis"`` parameters were chosen on MyoPS only, so every EMIDEC
    case is held out.
    """
    digits = "".join(ch for ch in case if ch.isdigit())
    if dataset != "myops" or not digits:
        return None
    return "odd" if int(digits[-1]) % 2 else "even"


def find_cases(data: Path, dataset: str) -> tuple[str, list[tuple[Path, str | None]]]:
    """The dataset name and its cases: (path, PNG case name or None) for MyoPS folders, EMIDEC NIfTI
    files or EMIDEC png_256 cases."""
    myops = (
        sorted(p for p in (data / "Train").glob("Case*") if p.is_dir()) if (data / "Train").is_dir() else []
    )
    emidec: list[tuple[Path, str | None]] = [
        (p, None)
        for p in sorted(data.rglob("Images/*.nii*"))
        if (p.parent.parent / "Contours" / p.name).is_file()
    ]
    for folder in (data / "train", data / "val"):
        names = sorted({p.name.rsplit("_slice", 1)[0] for p in folder.glob("Case_*_slice*.png")})
        emidec += [(folder, name) for name in names]
    if dataset == "auto":
        dataset = "myops" if myops else "emidec" if emidec else ""
    cases = [(p, None) for p in myops] if dataset == "myops" else emidec if dataset == "emidec" else []
    if not cases:
        raise SystemExit(f"no {dataset or 'MyoPS or EMIDEC'} cases under {data}; see the layouts in --help")
    return dataset, cases


def read_case(path: Path, case: str | None, dataset: str):
    """Read one case as an LGEStudy (EMIDEC PNG spacing ASSUMED, see the module docstring)."""
    from cardiopredict.cmr.io import read_lge

    if case is not None:
        return read_lge(
            path,
            case=case,
            pixel_spacing_mm=EMIDEC_PNG_SPACING_MM,
            slice_thickness_mm=EMIDEC_PNG_THICKNESS_MM,
        )
    # EMIDEC {0, 1, 2} label maps (normal cases) also fit ACDC: name the convention.
    return read_lge(path, label_convention="emidec" if dataset == "emidec" else None)


def segmenters(configs: dict[str, dict]) -> dict:
    """Benchmark name -> ScarSegmenter."""
    from cardiopredict.cmr.scar import scar_method

    return {
        name: scar_method(o["method"], **{k: v for k, v in o.items() if k != "method"})
        for name, o in configs.items()
    }


def run(data: Path, dataset: str, *, sweep: bool = False) -> dict:
    from cardiopredict.cmr.scar import scar_dice, segment_scar

    dataset, paths = find_cases(data, dataset)
    configs = {**METHODS, **(sweep_methods() if sweep else {})}
    built = segmenters(configs)
    per_method = {name: {"dice": {}, "burden_diff": [], "seconds": 0.0} for name in configs}
    n_slices, skipped, without_scar = 0, {}, []
    seen_ids: set[str] = set()
    for path, png_case in paths:
        study = read_case(path, png_case, dataset)
        case = study.patient_id
        if case in seen_ids:  # e.g. EMIDEC samplePositive/Case_P100 share a file name
            case = f"{path.parent.parent.parent.name}/{case}"
        seen_ids.add(case)
        if study.labels is None:
            skipped[case] = "no label map"
            continue
        myo = study.myocardium_mask()
        truth = study.scar_label_mask() & myo
        keep = myo.reshape(len(myo), -1).any(axis=1)
        if not keep.any():
            skipped[case] = "no myocardium"
            continue
        images, myo, truth = study.images[keep], myo[keep], truth[keep]
        n_slices += int(keep.sum())
        expert_pct = 100.0 * truth.sum() / myo.sum()
        if not truth.any():
            without_scar.append(case)
        for name, segmenter in built.items():
            started = time.perf_counter()
            result = segment_scar(images, myo, segmenter, pixel_spacing_mm=study.pixel_spacing_mm)
            per_method[name]["seconds"] += time.perf_counter() - started
            per_method[name]["dice"][case] = round(scar_dice(result.mask, truth), 4)
            per_method[name]["burden_diff"].append(100.0 * result.mask.sum() / myo.sum() - expert_pct)
    methods = {}
    for name, values in per_method.items():
        dice = np.array(list(values["dice"].values()))
        with_scar = [v for case, v in values["dice"].items() if case not in without_scar]
        halves = {
            half: [v for case, v in values["dice"].items() if _split(case, dataset) == half]
            for half in ("odd", "even")
        }
        diff = np.array(values["burden_diff"])
        methods[name] = {
            "options": configs[name],
            "dice": {
                "mean": round(float(dice.mean()), 4),
                "median": round(float(np.median(dice)), 4),
                "mean_cases_with_expert_scar": round(float(np.mean(with_scar)), 4) if with_scar else None,
                "mean_odd_cases": round(float(np.mean(halves["odd"])), 4) if halves["odd"] else None,
                "mean_even_cases_held_out": round(float(np.mean(halves["even"])), 4)
                if halves["even"]
                else None,
                "per_case": values["dice"],
            },
            "burden_diff_pct": {
                "mean": round(float(diff.mean()), 3),
                "sd": round(float(diff.std(ddof=1)), 3),
            },
            "seconds_per_slice": round(values["seconds"] / max(n_slices, 1), 5),
        }
    best = max(METHODS, key=lambda name: methods[name]["dice"]["mean"])
    swept = [name for name in methods if name not in METHODS and methods[name]["dice"]["mean_odd_cases"]]
    best_on_odd = max(swept, key=lambda name: methods[name]["dice"]["mean_odd_cases"]) if swept else None
    return {
        "dataset": dataset,
        "data": str(data),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cases": len(per_method["fwhm"]["dice"]),
        "slices": n_slices,
        "cases_without_expert_scar": without_scar,
        "skipped": skipped,
        "best_method": best,
        "sweep_best_on_odd_cases": best_on_odd,
        "methods": methods,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="folder holding Train/CaseNNNN/ (or EMIDEC cases)"
    )
    parser.add_argument("--dataset", choices=("auto", "myops", "emidec"), default="auto")
    parser.add_argument("--json", type=Path, help="write the result here (atomically)")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also run the 36-setting hysteresis grid the defaults were chosen from (odd cases)",
    )
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    result = run(args.data, args.dataset, sweep=args.sweep)
    text = dumps_strict(result)
    if args.json:
        atomic_write_json(args.json, result)
    print(f"{result['dataset']}: {result['cases']} cases, {result['slices']} slices", file=sys.stderr)
    for name, m in result["methods"].items():
        dice, diff = m["dice"], m["burden_diff_pct"]
        halves = " ".join(
            f"{label} {dice[key]:.3f}" if dice[key] is not None else f"{label} -"
            for label, key in (("odd", "mean_odd_cases"), ("even", "mean_even_cases_held_out"))
        )
        print(
            f"  {name:17s} dice mean {dice['mean']:.3f} median {dice['median']:.3f} ({halves})  "
            f"burden diff {diff['mean']:+.1f} ± {diff['sd']:.1f} %  {m['seconds_per_slice']:.4f} s/slice",
            file=sys.stderr,
        )
    if not args.json:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
