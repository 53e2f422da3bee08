"""`cardiopredict crt ...`: CRT-response study (paper section 2.1)."""

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
    profile_for,
    study_executor,
)
from cardiopredict.config import CRT_INPUTS

app = typer.Typer(help="CRT-response study (paper section 2.1).", no_args_is_help=True)


@app.command("run")
@clean_errors
def run(
    manifest: Annotated[Path, typer.Option(help="Cohort manifest (CSV/XLSX).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Run directory to write.")],
    inputs: Annotated[str, typer.Option(help="Comma list of pre, post, combined.")] = ",".join(CRT_INPUTS),
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
    """Run the CRT study: three input modes and the baselines on the same patient-level folds."""
    from cardiopredict.studies.crt import crt_spec
    from cardiopredict.studies.engine import run_study

    modes = comma_list(inputs, allowed=CRT_INPUTS, option="--inputs")
    profile = profile_for(
        quick=quick,
        folds=folds,
        seed=seed,
        max_epochs=max_epochs,
        device=device,
        learning_rate=learning_rate,
    )
    typer.echo(
        f"protocol: {profile.name} ({profile.training.n_folds} folds, "
        f"<= {profile.training.max_epochs} epochs)"
    )
    with study_executor(
        executor, ray_address, device=device, cpus_per_training=cpus_per_training,
        gpus_per_training=gpus_per_training,
    ) as chosen:  # fmt: skip
        metrics = run_study(
            crt_spec(inputs=modes), manifest, out, profile=profile, progress=True, resume=not fresh,
            executor=chosen,
        )  # fmt: skip
    for mode in modes:
        block = metrics["models"][mode]
        typer.echo(f"{mode:>10}: pooled AUC {block['auc_pooled']:.3f} {_ci(block)}")
    for name, block in metrics["baselines"].items():
        typer.echo(f"{name:>10}: pooled AUC {block['auc_pooled']:.3f} {_ci(block)}")
    if metrics.get("oracle_auc") is not None:
        typer.echo(f"    oracle: AUC {metrics['oracle_auc']:.3f} (true probabilities, synthetic cohort)")
    typer.echo(f"report: {Path(out) / 'report.html'}")


def _ci(block: dict) -> str:
    lo, hi = block.get("auc_ci95") or (None, None)
    return f"[95% CI {lo:.3f}-{hi:.3f}]" if lo is not None else ""
