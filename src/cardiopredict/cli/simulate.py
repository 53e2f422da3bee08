"""`cardiopredict simulate ...`: Write synthetic cohorts with their oracle probabilities."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import clean_errors

app = typer.Typer(help="Write synthetic cohorts with their oracle probabilities.", no_args_is_help=True)


class LGEFormat(StrEnum):
    """File format of the simulated LGE stacks."""

    dicom = "dicom"
    nifti = "nifti"


class ECGFormat(StrEnum):
    """File format of the simulated ECGs."""

    xlsx = "xlsx"
    csv = "csv"
    wfdb = "wfdb"


OutOption = Annotated[
    Path, typer.Option("--out", help="Folder to create (absent or empty, or use --overwrite).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same bytes.")]
FormatOption = Annotated[
    ECGFormat, typer.Option("--format", help="ECG file format (xlsx: the paper's export).")
]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty output folder.")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def _report(manifest: Path) -> None:
    from cardiopredict.cohort.synthetic import oracle_auc
    from cardiopredict.errors import InputError

    typer.echo(f"manifest: {manifest}")
    typer.echo(f"oracle AUC: {json.dumps({k: round(v, 4) for k, v in oracle_auc(manifest).items()})}")
    try:
        ecg = oracle_auc(manifest, source="ecg")
    except InputError:  # a CRT cohort: its oracle has no ECG-only part
        return
    typer.echo(f"ECG oracle AUC (what the ECG shows): {json.dumps({k: round(v, 4) for k, v in ecg.items()})}")


@app.command("crt")
@clean_errors
def crt(
    out: OutOption,
    n: Annotated[int, typer.Option("--n", help="Patients (>= 10; the paper's cohort has 196).")] = 196,
    seed: SeedOption = 0,
    format: FormatOption = ECGFormat.xlsx,
    overwrite: OverwriteOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a synthetic CRT cohort (pre- and post-implant ECGs, manifest.csv, oracle.csv)."""
    from cardiopredict.cohort.synthetic import simulate_crt_cohort

    manifest = simulate_crt_cohort(
        out, n=n, seed=seed, format=format.value, overwrite=overwrite, progress=not quiet
    )
    _report(manifest)


@app.command("cardiomyopathy")
@clean_errors
def cardiomyopathy(
    out: OutOption,
    n: Annotated[int, typer.Option("--n", help="Patients (>= 10; default as in the paper).")] = 500,
    seed: SeedOption = 0,
    format: FormatOption = ECGFormat.xlsx,
    overwrite: OverwriteOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a synthetic GEN / MYO / SARC cohort (one ECG per patient, manifest.csv, oracle.csv)."""
    from cardiopredict.cohort.synthetic import simulate_cardiomyopathy_cohort

    manifest = simulate_cardiomyopathy_cohort(
        out, n=n, seed=seed, format=format.value, overwrite=overwrite, progress=not quiet
    )
    _report(manifest)


@app.command("va")
@clean_errors
def va(
    out: OutOption,
    n: Annotated[int, typer.Option("--n", help="Patients (>= 1; the paper's cohort has 235).")] = 235,
    seed: SeedOption = 0,
    format: Annotated[
        LGEFormat, typer.Option("--format", help="LGE files: a DICOM series per patient, or one NIfTI.")
    ] = LGEFormat.dicom,
    overwrite: OverwriteOption = False,
    quiet: QuietOption = False,
) -> None:
    """Write a synthetic ventricular-arrhythmia cohort (LGE stacks, contours, manifest.csv, oracle.csv)."""
    import pandas as pd

    from cardiopredict.cohort.synthetic import oracle_auc
    from cardiopredict.cohort.va import simulate_va_cohort

    manifest = simulate_va_cohort(
        out, n=n, seed=seed, format=format.value, overwrite=overwrite, progress=not quiet
    )
    auc = oracle_auc(manifest)["va_event"]
    event_rate = float(pd.read_csv(manifest)["va_event"].mean())
    typer.echo(f"manifest: {manifest}")
    typer.echo(
        f"events: {event_rate:.1%} va_event; oracle AUC: "
        + (json.dumps({"va_event": round(auc, 4)}) if auc == auc else "undefined (one outcome class only)")
    )
