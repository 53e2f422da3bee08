"""`cardiopredict cmr ...`: LGE cardiac MRI: preprocess, plot."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import clean_errors

app = typer.Typer(help="LGE cardiac MRI: preprocess, plot.", no_args_is_help=True)


class ScarChoice(StrEnum):
    """Scar segmentation methods offered on the command line."""

    nsd = "nsd"
    fwhm = "fwhm"
    hysteresis = "hysteresis"
    labels = "labels"


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
    scar: Annotated[
        ScarChoice,
        typer.Option(
            help="Scar method: n-SD above remote, FWHM, FWHM hysteresis (best on MyoPS), or the label map."
        ),
    ] = (ScarChoice.nsd),
    n_sd: Annotated[
        float, typer.Option("--n-sd", help="Standard deviations above remote (for --scar nsd).")
    ] = 5.0,
) -> None:
    """Turn every patient's LGE study into (n_slices, 2, 128, 128) [myocardium, scar] model inputs."""
    import json

    from cardiopredict.cmr.preprocess import SUMMARY_FILE, preprocess_cohort

    folder = preprocess_cohort(manifest, out, scar=scar.value, n_sd=n_sd, progress=True)
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    typer.echo(
        f"{summary['included']} of {summary['patients']} patients included ({summary['rows']} slices); "
        f"{summary['excluded']} excluded (see {folder / 'exclusions.csv'}); arrays in {folder}"
    )


@app.command("plot")
@clean_errors
def plot(
    case: Annotated[Path, typer.Argument(help="LGE study: DICOM series folder or NIfTI file.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")],
    labels: Annotated[Path | None, typer.Option(help="Label map (NIfTI) on the image grid.")] = None,
    contours: Annotated[Path | None, typer.Option(help="Contour file (paper JSON/CSV form).")] = None,
    scar: Annotated[ScarChoice, typer.Option(help="Scar method for the last panel.")] = ScarChoice.nsd,
    n_sd: Annotated[
        float, typer.Option("--n-sd", help="Standard deviations above remote (for --scar nsd).")
    ] = 5.0,
    slice_position: Annotated[
        int | None, typer.Option("--slice", help="Selected slice to draw, 0 = most basal (default: middle).")
    ] = None,
) -> None:
    """Draw the paper's Fig. 2 panel for CASE: masked + normalised, cropped, oriented full slice, scar."""
    from cardiopredict.cmr.io import read_lge
    from cardiopredict.plots.cmr import plot_lge_panel

    hints = {key: value for key, value in (("labels", labels), ("contours", contours)) if value is not None}
    study = read_lge(case, **hints)
    path = plot_lge_panel(study, out, scar=scar.value, n_sd=n_sd, slice_position=slice_position)
    typer.echo(f"wrote {path}")
