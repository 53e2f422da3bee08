"""`cardiopredict va ...`: ventricular-arrhythmia risk from LGE scar maps (paper section 2.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import (
    StudyOptions,
    clean_errors,
    comma_list,
    echo_protocol,
    print_scores,
    with_study_options,
)
from cardiopredict.config import VA_MODELS, LGEInputConfig

app = typer.Typer(
    help="Ventricular-arrhythmia risk from LGE scar maps (paper section 2.2).", no_args_is_help=True
)
_LGE = LGEInputConfig()


@app.command("run")
@clean_errors
@with_study_options
def run(
    manifest: Annotated[Path, typer.Option(help="Cohort manifest (CSV/XLSX).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Run directory to write.")],
    scar: Annotated[
        str, typer.Option(help="Scar method: hysteresis, nsd, fwhm, labels (the label map) or learned:DIR.")
    ] = _LGE.scar,
    models: Annotated[
        str,
        typer.Option(
            help="Comma list of scarnet, scarnet_pooled, scarnet_polar (docs/BENCHMARKS.md, section 11)."
        ),
    ] = "scarnet",
    lge_channel: Annotated[
        bool, typer.Option(help="Add the normalised LGE image as a third channel.")
    ] = False,
    horizon_days: Annotated[float, typer.Option(help="Follow-up horizon of va_event, days.")] = 1826.0,
    pixel_spacing_mm: Annotated[
        float | None, typer.Option(help="Assumed in-plane spacing for files without one (e.g. PNG), mm.")
    ] = None,
    orient: Annotated[
        bool, typer.Option(help="Rotate slices to the RV insertion point (off for series without an RV).")
    ] = True,
    *,
    options: StudyOptions,
) -> None:
    """Run the VA study: slice CNN + MLP vs LVEF <= 35 %, LVEF and scar-feature logistic (and Cox)."""
    from cardiopredict.studies.va import model_spec, va_spec

    names = comma_list(models, allowed=VA_MODELS, option="--models")
    config = LGEInputConfig(
        scar=scar, lge_channel=lge_channel, pixel_spacing_mm=pixel_spacing_mm, orient=orient
    )
    profile = options.profile()
    echo_protocol(profile)
    for name in names:
        rate = profile.training_for(model_spec(name, config).learning_rate).learning_rate
        typer.echo(f"{name}: Adam learning rate {rate:g}")
    spec = va_spec(models=names, config=config, horizon_days=horizon_days)
    metrics = options.run(spec, manifest, out, profile=profile)
    print_scores(metrics, [*names, *metrics["baselines"]])
    for name, value in (metrics.get("survival") or {}).get("c_index", {}).items():
        typer.echo(f"{name:>18}: C-index {value:.3f}")
    typer.echo(f"excluded: {metrics['n_excluded']} (reasons in {Path(out) / 'cohort.csv'})")
    typer.echo(f"report: {Path(out) / 'report.html'}")
