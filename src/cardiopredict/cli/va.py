"""`cardiopredict va ...`: ventricular-arrhythmia risk from LGE scar maps (paper section 2.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import (
    TRAINING_DEFAULTS,
    CpusPerTrainingOption,
    DeviceOption,
    ExecutorOption,
    FoldsOption,
    FreshOption,
    GpusPerTrainingOption,
    LearningRateOption,
    MaxEpochsOption,
    QuickOption,
    RayAddressOption,
    SeedOption,
    clean_errors,
    comma_list,
    print_scores,
    profile_for,
    study_executor,
)
from cardiopredict.config import VA_MODELS, LGEInputConfig

app = typer.Typer(
    help="Ventricular-arrhythmia risk from LGE scar maps (paper section 2.2).", no_args_is_help=True
)
_LGE = LGEInputConfig()


@app.command("run")
@clean_errors
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
    folds: FoldsOption = TRAINING_DEFAULTS.n_folds,
    seed: SeedOption = TRAINING_DEFAULTS.seed,
    max_epochs: MaxEpochsOption = TRAINING_DEFAULTS.max_epochs,
    learning_rate: LearningRateOption = None,
    device: DeviceOption = TRAINING_DEFAULTS.device,
    quick: QuickOption = False,
    fresh: FreshOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_training: CpusPerTrainingOption = 1,
    gpus_per_training: GpusPerTrainingOption = 1.0,
) -> None:
    """Run the VA study: slice CNN + MLP vs LVEF <= 35 %, LVEF and scar-feature logistic (and Cox)."""
    from cardiopredict.studies.engine import run_study
    from cardiopredict.studies.va import model_spec, va_spec

    names = comma_list(models, allowed=VA_MODELS, option="--models")
    config = LGEInputConfig(
        scar=scar, lge_channel=lge_channel, pixel_spacing_mm=pixel_spacing_mm, orient=orient
    )
    profile = profile_for(
        quick=quick,
        folds=folds,
        seed=seed,
        max_epochs=max_epochs,
        device=device,
        learning_rate=learning_rate,
    )
    training = profile.training
    typer.echo(f"protocol: {profile.name} ({training.n_folds} folds, <= {training.max_epochs} epochs)")
    for name in names:
        rate = profile.training_for(model_spec(name, config).learning_rate).learning_rate
        typer.echo(f"{name}: Adam learning rate {rate:g}")
    spec = va_spec(models=names, config=config, horizon_days=horizon_days)
    with study_executor(
        executor, ray_address, device=device, cpus_per_training=cpus_per_training,
        gpus_per_training=gpus_per_training,
    ) as chosen:  # fmt: skip
        metrics = run_study(
            spec, manifest, out, profile=profile, progress=True, resume=not fresh, executor=chosen
        )
    print_scores(metrics, [*names, *metrics["baselines"]])
    for name, value in (metrics.get("survival") or {}).get("c_index", {}).items():
        typer.echo(f"{name:>18}: C-index {value:.3f}")
    typer.echo(f"excluded: {metrics['n_excluded']} (reasons in {Path(out) / 'cohort.csv'})")
    typer.echo(f"report: {Path(out) / 'report.html'}")
