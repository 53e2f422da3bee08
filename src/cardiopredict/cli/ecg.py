"""`cardiopredict ecg ...`: 12-lead ECG files: info, delineate, measure, plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from cardiopredict._io import dumps_strict
from cardiopredict.cli._common import clean_errors

app = typer.Typer(help="12-lead ECG files: info, delineate, measure, plot.", no_args_is_help=True)

# Reading hints shared by every command (passed to read_ecg), and the JSON switch.
FsOption = Annotated[float | None, typer.Option(help="Sampling rate in Hz, if the file does not state it.")]
UnitsOption = Annotated[str | None, typer.Option(help="mV, uV or V, if the file does not state it.")]
SheetOption = Annotated[str | None, typer.Option(help="Workbook sheet name, if it holds several.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one strict JSON object (null, never NaN) instead of a table.")
]


def _read(file: Path, fs: float | None, units: str | None, sheet: str | None, *, as_json: bool):
    """read_ecg with the CLI's options. Warnings about the record (an implausible rate) go to stderr,
    or into the JSON object (key ``warnings``) with ``--json``, so that stdout stays one JSON document."""
    from cardiopredict.ecg.io import read_ecg

    record = read_ecg(file, fs=fs, units=units, sheet=sheet)
    if not as_json:
        for warning in record.meta.get("warnings", []):
            typer.echo(f"warning: {warning}", err=True)
    return record


@app.command("info")
@clean_errors
def info(
    file: Annotated[
        Path, typer.Argument(help="ECG file (WFDB .hea, xlsx, csv, DICOM, MUSE/Philips XML, ...).")
    ],
    fs: FsOption = None,
    units: UnitsOption = None,
    sheet: SheetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the format, sampling rate, duration, leads and per-lead amplitude range of FILE."""
    record = _read(file, fs, units, sheet, as_json=as_json)
    quality = record.meta.get("quality", {})
    with np.errstate(all="ignore"):
        low, high = np.nanmin(record.signal, axis=1), np.nanmax(record.signal, axis=1)
    summary = {
        "file": str(file),
        "format": record.meta.get("format"),
        "fs_hz": record.fs,
        "duration_s": round(record.duration_s, 6),
        "n_samples": record.n_samples,
        "leads": list(record.leads),
        "derived_leads": list(record.meta.get("derived_leads", ())),
        "amplitude_mv": {
            lead: {"min": _finite(lo), "max": _finite(hi), "flags": list(quality.get(lead, []))}
            for lead, lo, hi in zip(record.leads, low, high, strict=True)
        },
        "record_flags": list(record.meta.get("record_flags", [])),
        "warnings": list(record.meta.get("warnings", [])),
    }
    if as_json:
        typer.echo(dumps_strict(summary))
        return
    derived = ", ".join(summary["derived_leads"]) or "none"
    typer.echo(f"file:      {file}")
    typer.echo(f"format:    {summary['format']}")
    typer.echo(f"fs:        {record.fs:g} Hz")
    typer.echo(f"duration:  {record.duration_s:.3f} s ({record.n_samples} samples)")
    typer.echo(f"leads:     {' '.join(record.leads)} (derived from I and II: {derived})")
    typer.echo(f"{'lead':<5} {'min mV':>9} {'max mV':>9} {'p-p mV':>9}  flags")
    for lead, values in summary["amplitude_mv"].items():
        lo, hi = values["min"], values["max"]
        ptp = f"{hi - lo:9.3f}" if lo is not None and hi is not None else f"{'-':>9}"
        cells = " ".join(f"{v:9.3f}" if v is not None else f"{'-':>9}" for v in (lo, hi))
        typer.echo(f"{lead:<5} {cells} {ptp}  {', '.join(values['flags']) or 'ok'}")
    for flag in summary["record_flags"]:
        typer.echo(f"record:    {flag} (see the warning above)")


def _finite(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


# --- delineation, measurements, plot (issue 3) -------------------------------------------------
def _read_and_delineate(
    file: Path, fs: float | None, units: str | None, sheet: str | None, *, as_json: bool = False
):
    from cardiopredict.ecg import delineate

    record = _read(file, fs, units, sheet, as_json=as_json)
    return record, delineate(record)


@app.command("delineate")
@clean_errors
def delineate_command(
    file: Annotated[Path, typer.Argument(help="ECG file (any format read_ecg reads).")],
    fs: FsOption = None,
    units: UnitsOption = None,
    sheet: SheetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find every QRS complex of FILE: global onset, R peak, offset and duration per beat."""
    record, d = _read_and_delineate(file, fs, units, sheet, as_json=as_json)
    if as_json:
        warnings = record.meta.get("warnings", [])
        typer.echo(dumps_strict({"file": str(file), **d.to_dict(), "warnings": warnings}))
        return
    durations = d.qrs_durations_ms
    typer.echo(f"file: {file} — {d.n_beats} beats, {int(d.valid.sum())} valid, fs {d.fs:g} Hz")
    typer.echo(f"{'beat':>4} {'onset s':>8} {'R s':>8} {'offset s':>8} {'QRS ms':>7}  status")
    for k in range(d.n_beats):
        status = "ok" if d.valid[k] else "flagged: " + ", ".join(d.beat_flags[k])
        if d.paced is not None and d.paced[k]:
            status += " (paced)"
        typer.echo(
            f"{k + 1:>4} {d.qrs_onsets[k] / d.fs:8.3f} {d.r_peaks[k] / d.fs:8.3f} "
            f"{d.qrs_offsets[k] / d.fs:8.3f} {durations[k]:7.0f}  {status}"
        )
    if d.valid.any():
        typer.echo(f"median QRS duration (valid beats): {np.median(durations[d.valid]):.0f} ms")


@app.command("measure")
@clean_errors
def measure_command(
    file: Annotated[Path, typer.Argument(help="ECG file (any format read_ecg reads).")],
    sex: Annotated[
        str | None, typer.Option(help="M or F, for sex-specific criteria (Strauss, Cornell).")
    ] = None,
    fs: FsOption = None,
    units: UnitsOption = None,
    sheet: SheetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Clinical measurements of FILE: QRS, PR, rate, AV block, LBBB/RBBB, voltage, VCG QRS area."""
    from cardiopredict.ecg.measurements import measure

    record, d = _read_and_delineate(file, fs, units, sheet, as_json=as_json)
    values = measure(record, d, sex=sex).to_dict()
    if as_json:
        typer.echo(dumps_strict({"file": str(file), **values, "warnings": record.meta.get("warnings", [])}))
        return
    reasons, degraded = values.pop("not_assessable"), values.pop("degraded_leads")
    typer.echo(f"file: {file}")
    for name, value in values.items():
        if name in reasons:
            shown = f"not assessable: {reasons[name]}"
        else:
            shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        typer.echo(f"{name:<18} {shown}")
    if degraded:
        typer.echo("degraded leads:    " + "; ".join(f"{k} ({', '.join(v)})" for k, v in degraded.items()))


@app.command("plot")
@clean_errors
def plot_command(
    file: Annotated[Path, typer.Argument(help="ECG file (any format read_ecg reads).")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    start: Annotated[float, typer.Option(help="First second to draw (10 s are drawn).")] = 0.0,
    fs: FsOption = None,
    units: UnitsOption = None,
    sheet: SheetOption = None,
) -> None:
    """Draw the 12 leads of FILE with the QRS complexes shaded (green valid, red flagged).

    At most 10 s are drawn (from --start), so a long record stays a readable page.
    """
    from cardiopredict.plots.ecg_grid import MAX_SECONDS, plot_ecg_grid

    record, d = _read_and_delineate(file, fs, units, sheet)
    written = plot_ecg_grid(record, d, out, start_s=start)
    shown = min(MAX_SECONDS, max(record.duration_s - start, 0.0))
    part = (
        f" ({shown:.1f} s of {record.duration_s:.1f} s from {start:g} s)" if shown < record.duration_s else ""
    )
    typer.echo(f"wrote {written}{part}")
