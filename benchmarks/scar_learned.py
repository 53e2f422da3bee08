"""Learned scar segmentation vs every threshold rule, against the expert, with patient-level CV (one run).

For one dataset (MyoPS or EMIDEC, layouts as in ``benchmarks/scar_myops.py``), in one process:

* every threshold rule of ``scar_myops.METHODS`` on every case (they are not trained; the hysteresis
  parameters were chosen on the odd MyoPS cases, see docs/BENCHMARKS.md);
* the learned segmenter (:mod:`cardiopredict.training.segmentation`): ``--folds`` patient-level folds,
  each trained with an inner validation split for early stopping and scored on its held-out cases, plus
  (unless ``--no-final``) a final model on every case, whose training time answers "training on all
  cases";
* per case and mean Dice (pooled over the case's slices, at the acquired resolution, inside the expert
  myocardium: :func:`cardiopredict.cmr.scar.scar_dice`), scar burden Bland-Altman (method minus expert,
  % of the myocardium: mean and 95 % limits), training seconds, and inference slices/s of the learned
  model on ONE thread (crop, network, back-projection; measured on every case once after training);
* with ``--pretrain DATA``, every fold network starts from one trained first on all cases of another
  dataset (``init_from``; none of the benchmark's own cases is in it);
* the learned model's mean Dice minus the best threshold rule's, per case pairs;
* held-out variants of the same fold models (no retraining): threshold 0.5 or the fold's tuned one,
  with and without test-time flips, each also with the fitted post-processing (``_mc``: scar components
  smaller than an area fitted on the fold's inner validation cases removed; ``_mc_bp``: then every case
  under a burden fitted the same way called scar-free;
  :func:`cardiopredict.training.segmentation.fit_postprocessing`); and every mean also over the odd- and
  even-numbered MyoPS cases (configurations are chosen on the odd cases, the even ones are reported as
  held out).

The models are written to ``--work`` (default a temporary folder; never commit them: the datasets'
licences forbid redistributing weights trained on them). EMIDEC png_256 slices have no spacing and no RV:
the spacing is ASSUMED (``scar_myops.EMIDEC_PNG_SPACING_MM``) and the slices are not rotated.

Usage:
  nice -n 10 python benchmarks/scar_learned.py --data ../shared/data/cmr/myops_multiseq_tengjia --json m.json
  nice -n 10 python benchmarks/scar_learned.py --data ../shared/data/cmr/emidec/png_256 --dataset emidec \\
      --folds 3 --json e.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cardiopredict._io import atomic_write_json, dumps_strict
from scar_myops import METHODS, _split, find_cases, read_case, segmenters


def read_labelled(data: Path, dataset: str, *, limit: int | None = None) -> tuple[str, list, dict]:
    """The dataset's cases as LabelledCase (expert scar = canonical 3 + 4), and the skipped ones."""
    from cardiopredict.training.segmentation import labelled_case

    dataset, paths = find_cases(data, dataset)
    cases, skipped = [], {}
    for path, png_case in paths[:limit]:
        study = read_case(path, png_case, dataset)
        if study.labels is None:
            skipped[study.patient_id] = "no label map"
            continue
        try:
            cases.append(labelled_case(study))
        except Exception as error:
            skipped[study.patient_id] = f"{type(error).__name__}: {error}"
    return dataset, cases, skipped


def bland_altman(diff: list[float]) -> dict:
    values = np.asarray(diff, dtype=float)
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    return {
        "mean": round(mean, 3),
        "sd": round(sd, 3),
        "lower": round(mean - 1.96 * sd, 3),
        "upper": round(mean + 1.96 * sd, 3),
    }


def thresholds(cases: list) -> dict:
    """Every threshold rule on every case: per-case Dice, mean, burden Bland-Altman, seconds per slice."""
    from cardiopredict.cmr.scar import scar_dice, segment_scar

    out = {}
    for name, segmenter in segmenters(METHODS).items():
        dice, diff, seconds = {}, [], 0.0
        for case in cases:
            started = time.perf_counter()
            mask = segment_scar(case.images, case.myo, segmenter, pixel_spacing_mm=case.pixel_spacing_mm).mask
            seconds += time.perf_counter() - started
            dice[case.patient_id] = round(scar_dice(mask, case.truth), 4)
            diff.append(100.0 * (mask.sum() - case.truth.sum()) / case.myo.sum())
        out[name] = {
            "mean_dice": round(float(np.mean(list(dice.values()))), 4),
            "per_case_dice": dice,
            "burden_bland_altman_pct": bland_altman(diff),
            "seconds_per_slice": round(seconds / sum(len(c.images) for c in cases), 5),
        }
    return out


def halves(per_case: dict, dataset: str) -> dict:
    """Mean Dice over all cases and over the odd / even MyoPS halves."""
    out = {"all": round(float(np.mean(list(per_case.values()))), 4)}
    for half in ("odd", "even"):
        values = [v for k, v in per_case.items() if _split(k, dataset) == half]
        if values:
            out[half] = round(float(np.mean(values)), 4)
    return out


def heldout_variants(cases: list, work: Path, folds: int, dataset: str) -> dict:
    """Every fold model on its held-out cases: threshold 0.5 / its own, flips off / on, post-processed or not.

    ``_mc`` variants remove the scar components smaller than the area that maximises the fold's inner
    validation cases' mean Dice (:func:`~cardiopredict.training._scar_fit.choose_min_component`), fitted
    for that variant's threshold and flips; ``_mc_bp`` then also call scar-free every case under the
    burden fitted the same way after the area
    (:func:`~cardiopredict.training._scar_fit.choose_postprocessing`, as training fits them). The
    held-out cases never take part in a choice.
    """
    import json

    from cardiopredict.cmr.learned import LearnedScar, postprocess_scar
    from cardiopredict.cmr.scar import scar_dice
    from cardiopredict.training._scar_fit import choose_postprocessing

    fold_of = json.loads((work / "run.json").read_text(encoding="utf-8"))["fold_of_case"]
    by_id = {c.patient_id: c for c in cases}
    variants: dict[str, dict] = {}
    fitted: dict[str, list] = {}
    for k in range(folds):
        saved = json.loads((work / f"fold{k}" / "scar_model.json").read_text(encoding="utf-8"))
        held = [c for c in cases if fold_of[c.patient_id] == k]
        validation = [by_id[p] for p in saved["training"]["validation_patients"]]
        for name, model in _fold_variants(LearnedScar, work / f"fold{k}", saved["threshold"]):
            post = choose_postprocessing(
                [_raw_mask(model, c) for c in validation], validation, min_scar_percent=True
            )
            area, burden = post["min_component_mm2"], post["min_scar_percent"]
            fitted.setdefault(f"{name}_mc", []).append(area)
            fitted.setdefault(f"{name}_mc_bp", []).append(burden)
            for case in held:
                mask = _raw_mask(model, case)
                for label, values in (
                    (name, (0.0, 0.0)),
                    (f"{name}_mc", (area, 0.0)),
                    (f"{name}_mc_bp", (area, burden)),
                ):
                    kept = postprocess_scar(
                        mask,
                        case.myo,
                        pixel_spacing_mm=case.pixel_spacing_mm,
                        min_component_mm2=values[0],
                        min_scar_percent=values[1],
                    )
                    variants.setdefault(label, {})[case.patient_id] = round(scar_dice(kept, case.truth), 4)
    return {
        name: {
            "mean_dice": halves(v, dataset),
            "per_case_dice": v,
            **({"fitted_per_fold": fitted[name]} if name in fitted else {}),
        }
        for name, v in variants.items()
    }


def _fold_variants(learned_scar, folder: Path, tuned: float) -> list:
    """(name, segmenter) of one fold model: threshold 0.5 / tuned, flips off / on; for an ensemble
    also its first member alone at 0.5 (``member0_t0.50``: the single network of the same run)."""
    variants = []
    for flips in (False, True):
        for label, threshold in (("t0.50", 0.5), ("tuned", tuned)):
            model = learned_scar.load(
                folder, threshold=threshold, test_time_flips=flips, min_component_mm2=0.0
            )
            variants.append((f"{label}{'_flips' if flips else ''}", model))
    members = getattr(variants[0][1].network, "members", None)
    if members is not None:
        single = learned_scar(members[0], variants[0][1].config, threshold=0.5, min_component_mm2=0.0)
        variants.append(("member0_t0.50", single))
    return variants


def _raw_mask(model, case) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The model's scar of one case at the acquired resolution (as ``evaluate_case`` scores it)."""
    from cardiopredict.cmr.scar import segment_scar

    return segment_scar(
        case.images,
        case.myo,
        model,
        pixel_spacing_mm=case.pixel_spacing_mm,
        rotation_deg=case.rotation_deg,
    ).mask


def inference_speed(model_dir: Path, cases: list) -> dict:
    """Slices per second of the learned segmenter on one thread (every case once, after one warm-up).

    ``wall``: slices per elapsed second (depends on what else the machine runs); ``cpu``: slices per
    second of this process's CPU time, i.e. what one dedicated core gives (the process runs one thread).
    """
    import torch

    from cardiopredict.cmr.learned import LearnedScar
    from cardiopredict.cmr.scar import segment_scar

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        segmenter = LearnedScar.load(model_dir)
        segment_scar(cases[0].images, cases[0].myo, segmenter, pixel_spacing_mm=cases[0].pixel_spacing_mm)
        wall, cpu = time.perf_counter(), time.process_time()
        for case in cases:
            segment_scar(
                case.images,
                case.myo,
                segmenter,
                pixel_spacing_mm=case.pixel_spacing_mm,
                rotation_deg=case.rotation_deg,
            )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        n = sum(len(c.images) for c in cases)
        return {"slices": n, "wall": round(n / wall, 2), "cpu": round(n / cpu, 2)}
    finally:
        torch.set_num_threads(threads)


def draw_figure(cases: list, work: Path, rule_name: str, out: Path, *, n_cases: int = 6) -> Path:
    """Expert vs the best threshold rule vs the learned model (whose fold never saw the case), on crops."""
    import functools
    import json

    from cardiopredict.cmr.geometry import oriented_crop
    from cardiopredict.cmr.learned import LearnedScar
    from cardiopredict.cmr.preprocess import oriented_mask
    from cardiopredict.cmr.scar import segment_scar
    from cardiopredict.plots.cmr import plot_scar_comparison

    fold_of = json.loads((work / "run.json").read_text(encoding="utf-8"))["fold_of_case"]
    rule = segmenters({rule_name: METHODS[rule_name]})[rule_name]
    with_scar = [c for c in cases if c.has_scar]
    chosen = [
        with_scar[i] for i in np.linspace(0, len(with_scar) - 1, min(n_cases, len(with_scar))).astype(int)
    ]
    rows = []
    for case in chosen:
        fold = fold_of[case.patient_id]
        learned = LearnedScar.load(work / f"fold{fold}")
        k = int(np.argmax(case.truth.reshape(len(case.truth), -1).sum(axis=1)))
        masks = {}
        for name, segmenter in ((rule_name, rule), ("learned", learned)):
            mask = segment_scar(
                case.images,
                case.myo,
                segmenter,
                pixel_spacing_mm=case.pixel_spacing_mm,
                rotation_deg=case.rotation_deg,
            ).mask[k]
            crop = functools.partial(
                oriented_crop, spacing_mm=case.pixel_spacing_mm, size=case.target.shape[-1], order=1
            )
            masks[name] = oriented_mask(mask, case.inputs.centres[k], case.inputs.angles[k], crop=crop)
        cut = case.inputs.x[k]
        rows.append(
            (
                f"{case.patient_id} slice {k} (fold {fold} held out)",
                cut[0],
                cut[1] > 0,
                {"expert": case.target[k] > 0.5, **masks},
            )
        )
    return plot_scar_comparison(rows, out, title="Expert vs threshold rule vs learned (held-out cases)")


def pretrained(args: argparse.Namespace, config, work: Path) -> tuple:  # type: ignore[no-untyped-def]
    """One network trained on every case of ``--pretrain`` (another dataset); the folds start from it.

    Same options as the folds' networks (one network, ``max_epochs`` epochs, no validation). Kept in
    ``work/pretrain`` (resumable). Returns the config with ``init_from`` set, and what to report.
    """
    import json
    from dataclasses import replace

    from cardiopredict.training.segmentation import fit_scar_network, save_trained_scar_model

    if args.pretrain.resolve() == args.data.resolve():
        raise SystemExit("--pretrain must name another dataset than --data (its cases would be held out).")
    dataset, cases, skipped = read_labelled(args.pretrain, args.pretrain_dataset, limit=args.limit)
    folder, single = work / "pretrain", replace(config, ensemble=1, init_from=None)
    if not (folder / "scar_model.json").is_file():
        network, history = fit_scar_network(cases, [], config=single, epochs=single.max_epochs)
        save_trained_scar_model(network, folder, single, cases, training=history)
    saved = json.loads((folder / "scar_model.json").read_text(encoding="utf-8"))
    report = {
        "data": str(args.pretrain),
        "dataset": dataset,
        "cases": len(cases),
        "slices": int(sum(len(c.images) for c in cases)),
        "skipped": skipped,
        "train_seconds": saved["training"]["seconds"],
        "epochs": saved["training"]["epochs_run"],
        "model": str(folder),
    }
    return replace(config, init_from=str(folder)), report


def run(args: argparse.Namespace) -> dict:
    import torch

    from cardiopredict.training.segmentation import ScarTrainingConfig, cross_validate_scar

    torch.set_num_threads(args.threads)
    dataset, cases, skipped = read_labelled(args.data, args.dataset, limit=args.limit)
    rules = thresholds(cases)
    config = ScarTrainingConfig(
        arch=args.arch,
        channels=tuple(int(c) for c in args.channels.split(",")),
        num_res_units=args.res_units,
        max_epochs=args.max_epochs,
        patience=args.patience,
        selection=args.selection,
        lr_schedule=args.lr_schedule,
        loss=args.loss,
        learning_rate=args.learning_rate,
        tune_threshold=args.tune_threshold,
        tune_min_component=args.min_component,
        tune_min_scar_percent=args.min_scar_percent,
        test_time_flips=args.flips,
        ensemble=args.ensemble,
        seed=args.seed,
        threads=args.threads,
    )
    work = args.work or Path(tempfile.mkdtemp(prefix=f"scar_learned_{dataset}_"))
    pretrain = None
    if args.pretrain:
        config, pretrain = pretrained(args, config, work)
    started = time.perf_counter()
    cv = cross_validate_scar(
        cases, work, folds=args.folds, config=config, final=not args.no_final, progress=True
    )
    wall = time.perf_counter() - started
    model_dir = work / "final" if not args.no_final else work / "fold0"
    best_rule = max(rules, key=lambda name: rules[name]["mean_dice"])
    if args.figure:
        draw_figure(cases, work, best_rule, args.figure)
    learned_dice = cv["per_case_dice"]
    best = max(rules, key=lambda name: rules[name]["mean_dice"])
    paired = [learned_dice[p] - rules[best]["per_case_dice"][p] for p in learned_dice]
    for rule in rules.values():
        rule["mean_dice_halves"] = halves(rule["per_case_dice"], dataset)
    return {
        "benchmark": "scar_learned",
        "dataset": dataset,
        "data": str(args.data),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cases": len(cases),
        "slices": int(sum(len(c.images) for c in cases)),
        "skipped": skipped,
        "assumptions": (
            f"EMIDEC png_256: pixel spacing ASSUMED {args.emidec_spacing}, no RV (slices not rotated)"
            if dataset == "emidec"
            else "MyoPS: spacing from the NIfTI headers; rotation from the RV label"
        ),
        "thresholds": rules,
        "best_threshold": best,
        "pretrain": pretrain,
        "learned": {
            "arch": args.arch,
            "folds": args.folds,
            "mean_dice": cv["mean_dice"],
            "mean_dice_halves": halves(learned_dice, dataset),
            "median_dice": cv["median_dice"],
            "heldout_variants": heldout_variants(cases, work, args.folds, dataset),
            "thresholds": cv["thresholds"],
            "min_components_mm2": cv["min_components_mm2"],
            "min_scar_percents": cv["min_scar_percents"],
            "per_case_dice": learned_dice,
            "burden_bland_altman_pct": cv["burden_bland_altman_pct"],
            "best_epochs": cv["best_epochs"],
            "train_seconds_per_fold": cv["train_seconds_per_fold"],
            "final_train_seconds_all_cases": cv["final_train_seconds"],
            "wall_seconds_cv_and_final": round(wall, 1),
            "training_threads": args.threads,
            "inference_slices_per_s_one_thread": inference_speed(model_dir, cases),
            "config": cv["config"],
        },
        "learned_minus_best_threshold": {
            "mean": round(float(np.mean(paired)), 4),
            "cases_better": int(np.sum(np.asarray(paired) > 0)),
            "cases_worse": int(np.sum(np.asarray(paired) < 0)),
        },
        "work_dir": str(work),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--dataset", choices=("auto", "myops", "emidec"), default="auto")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--arch", choices=("unet", "swinunetr"), default="unet")
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=12)
    parser.add_argument("--selection", choices=("val_dice", "val_loss", "last"), default="val_dice")
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument("--loss", choices=("dice_ce", "tversky_ce"), default="dice_ce")
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--channels", default="16,32,64,128", help="U-Net channels per level")
    parser.add_argument("--res-units", type=int, default=1, help="residual units per U-Net block")
    parser.add_argument("--tune-threshold", action="store_true", help="threshold from the inner validation")
    parser.add_argument("--flips", action="store_true", help="test-time flips in the saved models")
    parser.add_argument(
        "--min-component",
        action="store_true",
        help="fit the smallest scar component on the inner validation (the train-scar default)",
    )
    parser.add_argument(
        "--min-scar-percent",
        action="store_true",
        help="also fit the smallest case scar burden on the inner validation (after the component)",
    )
    parser.add_argument(
        "--ensemble", type=int, default=1, help="networks per model (seeds seed, seed+1, ...)"
    )
    parser.add_argument(
        "--pretrain",
        type=Path,
        help="another labelled dataset: train one network on all its cases first, start every fold from it",
    )
    parser.add_argument("--pretrain-dataset", choices=("auto", "myops", "emidec"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training")
    parser.add_argument("--limit", type=int, help="only the first N cases (smoke runs)")
    parser.add_argument("--no-final", action="store_true", help="skip the model on all cases")
    parser.add_argument("--work", type=Path, help="model folder (resumable); default a temporary folder")
    parser.add_argument("--json", type=Path, help="write the result here (atomically)")
    parser.add_argument("--figure", type=Path, help="PNG: expert vs best rule vs learned on held-out slices")
    parser.add_argument("--speed", type=Path, help="only measure inference slices/s of this model folder")
    args = parser.parse_args(argv)
    if args.speed:
        _, cases, _ = read_labelled(args.data, args.dataset, limit=args.limit)
        print(
            dumps_strict(
                {
                    "model": str(args.speed),
                    "inference_slices_per_s_one_thread": inference_speed(args.speed, cases),
                }
            )
        )
        return 0
    from scar_myops import EMIDEC_PNG_SPACING_MM

    args.emidec_spacing = EMIDEC_PNG_SPACING_MM
    result = run(args)
    if args.json:
        atomic_write_json(args.json, result)
    learned, best = result["learned"], result["best_threshold"]
    print(
        f"{result['dataset']}: {result['cases']} cases, {result['slices']} slices; learned "
        f"({learned['folds']}-fold) mean Dice {learned['mean_dice']:.3f} vs best threshold {best} "
        f"{result['thresholds'][best]['mean_dice']:.3f}; inference "
        f"{learned['inference_slices_per_s_one_thread']} slices/s (1 thread: wall, cpu)",
        file=sys.stderr,
    )
    if not args.json:
        print(dumps_strict(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
