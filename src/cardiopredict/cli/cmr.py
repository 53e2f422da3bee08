"""`cardiopredict cmr ...`: LGE cardiac MRI: preprocess, plot, train-scar."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import clean_errors
from cardiopredict.cmr.scar import SCAR_METHODS, ScarSegmenter, scar_method
from cardiopredict.errors import InputError

app = typer.Typer(help="LGE cardiac MRI: preprocess, plot, train-scar.", no_args_is_help=True)

_SCAR_HELP = (
    f"Scar method: {', '.join(SCAR_METHODS)} (n-SD above remote, FWHM, FWHM hysteresis - the best rule on "
    "MyoPS -, the label map, or a model trained with `cmr train-scar`, e.g. learned:runs/scar/final); "
    "a rule's parameters after a colon, e.g. hysteresis:baseline=remote."
)


class Architecture(StrEnum):
    """Scar networks offered by `cmr train-scar`."""

    unet = "unet"
    swinunetr = "swinunetr"


def _segmenter(scar: str, n_sd: float | None) -> ScarSegmenter:
    """The --scar spec with --n-sd (only meaningful for nsd)."""
    if n_sd is not None and scar.strip().lower() != "nsd":
        raise InputError(f"--n-sd applies to --scar nsd only, not to --scar {scar}.")
    return scar_method(scar, **({"n_sd": n_sd} if n_sd is not None else {}))


@app.command("preprocess")
@clean_errors
def preprocess(
    manifest: Annotated[
        Path,
        typer.Option(
            help="CSV/XLSX: patient_id, lge (DICOM folder or NIfTI), optional labels and contours columns."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder (inputs.npy, lge.npy, index.csv, exclusions.csv).")
    ],
    scar: Annotated[str, typer.Option(help=_SCAR_HELP)] = "nsd",
    n_sd: Annotated[
        float | None, typer.Option("--n-sd", help="Standard deviations above remote (--scar nsd; default 5).")
    ] = None,
) -> None:
    """Turn every patient's LGE study into (n_slices, 2, 128, 128) [myocardium, scar] model inputs.

    A patient that cannot be read or used is excluded with the reason (exclusions.csv) and the others go
    on; the command exits 1 only when no patient is left.
    """
    from cardiopredict.cmr.preprocess import EXCLUSIONS_FILE, SUMMARY_FILE
    from cardiopredict.features import preprocess_cohort

    folder = preprocess_cohort(manifest, out, scar=_segmenter(scar, n_sd), progress=True)
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    typer.echo(
        f"{summary['included']} of {summary['patients']} patients included ({summary['rows']} slices); "
        f"{summary['excluded']} excluded (see {folder / EXCLUSIONS_FILE}); arrays in {folder}"
    )
    if summary["included"] == 0:
        typer.secho("error: no patient could be used; see the reasons in exclusions.csv", err=True, fg="red")
        raise typer.Exit(code=1)


@app.command("plot")
@clean_errors
def plot(
    case: Annotated[Path, typer.Argument(help="LGE study: DICOM series folder or NIfTI file.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")],
    labels: Annotated[Path | None, typer.Option(help="Label map (NIfTI) on the image grid.")] = None,
    contours: Annotated[Path | None, typer.Option(help="Contour file (paper JSON/CSV form).")] = None,
    scar: Annotated[str, typer.Option(help=_SCAR_HELP)] = "nsd",
    n_sd: Annotated[
        float | None, typer.Option("--n-sd", help="Standard deviations above remote (--scar nsd; default 5).")
    ] = None,
    slice_position: Annotated[
        int | None, typer.Option("--slice", help="Selected slice to draw, 0 = most basal (default: middle).")
    ] = None,
) -> None:
    """Draw the paper's Fig. 2 panel for CASE: masked + normalised, cropped, oriented full slice, scar."""
    from cardiopredict.cmr.io import read_lge
    from cardiopredict.plots.cmr import plot_lge_panel

    segmenter = _segmenter(scar, n_sd)
    hints = {key: value for key, value in (("labels", labels), ("contours", contours)) if value is not None}
    study = read_lge(case, **hints)
    path = plot_lge_panel(study, out, scar=segmenter, slice_position=slice_position)
    typer.echo(f"wrote {path}")


@app.command("train-scar")
@clean_errors
def train_scar(
    manifest: Annotated[
        Path,
        typer.Option(
            help="CSV/XLSX: patient_id, lge, and labels (MyoPS, EMIDEC or canonical label map) and/or "
            "contours + scar_mask (binary, on the image grid)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder (folds, final model, per_case.csv, cv.json).")],
    arch: Annotated[Architecture, typer.Option(help="unet (residual U-Net) or swinunetr (2-D).")] = (
        Architecture.unet
    ),
    folds: Annotated[int, typer.Option(help="Patient-level cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of folds, initialisation and augmentation.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto.")] = "cpu",
    max_epochs: Annotated[
        int | None, typer.Option(help="Epochs per model (default 40, a fixed budget with a cosine schedule).")
    ] = None,
    mvo: Annotated[
        bool, typer.Option("--mvo/--no-mvo", help="Count no-reflow / MVO (EMIDEC label 4) as scar.")
    ] = True,
    label_convention: Annotated[
        str | None, typer.Option(help="Label convention when the values do not decide it (emidec, acdc).")
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Start every network from this scar model's weights (same --arch and options), e.g. the "
            "final model of a train-scar run on another labelled set; default: random initialisation."
        ),
    ] = None,
    min_scar_percent: Annotated[
        bool | None,
        typer.Option(
            "--min-scar-percent/--no-min-scar-percent",
            help="Fit on the inner validation patients the scar burden (% of the myocardium) under which "
            "a case is called scar-free (for cohorts with scar-free patients; where every case has scar "
            "the fit keeps 0). Default: on (docs/CMR_FORMATS.md section 9).",
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option(help="Start over instead of resuming finished folds in OUT.")
    ] = False,
) -> None:
    """Train the learned scar segmenter with patient-level k-fold CV, then a final model on all cases.

    Prints the held-out Dice; use the model with --scar learned:OUT/final. Resumable: finished folds in
    OUT are kept when the cases and options are the same.
    """
    from cardiopredict.training.segmentation import (
        ScarTrainingConfig,
        cross_validate_scar,
        read_labelled_cases,
    )

    scar_labels = (3, 4) if mvo else (3,)
    cases, exclusions = read_labelled_cases(
        manifest, scar_labels=scar_labels, label_convention=label_convention
    )
    for row in exclusions:
        typer.secho(f"excluded {row['patient_id']}: {row['reason']}", err=True, fg="yellow")
    if len(cases) < 2:
        typer.secho(f"error: {len(cases)} usable labelled case(s); need at least 2.", err=True, fg="red")
        raise typer.Exit(code=1)
    options: dict = {} if max_epochs is None else {"max_epochs": max_epochs}
    if init_from is not None:
        options["init_from"] = str(init_from)
    if min_scar_percent is not None:
        options["tune_min_scar_percent"] = min_scar_percent
    config = ScarTrainingConfig(arch=arch.value, seed=seed, device=device, scar_labels=scar_labels, **options)
    summary = cross_validate_scar(cases, out, folds=folds, config=config, fresh=fresh, progress=True)
    typer.echo(
        f"{summary['cases']} cases, {summary['folds']} folds: held-out mean Dice {summary['mean_dice']:.3f} "
        f"(median {summary['median_dice']:.3f}); per case in {out / 'per_case.csv'}; "
        f"final model: --scar learned:{summary['final_model']}"
    )
