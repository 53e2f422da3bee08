"""`cardiopredict tune STUDY ...`: hyperparameter search by nested cross-validation (Optuna)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import (
    TRAINING_DEFAULTS,
    CpusPerTrainingOption,
    ExecutorOption,
    GpusPerTrainingOption,
    RayAddressOption,
    clean_errors,
    comma_list,
    print_scores,
    profile_for,
    study_executor,
)
from cardiopredict.config import CARDIOMYOPATHY_INPUTS, CARDIOMYOPATHY_TASKS, CRT_INPUTS

TUNABLE_STUDIES = ("crt", "cardiomyopathy")


def _spec(study: str, inputs: str | None, tasks: str | None):
    if study == "crt":
        from cardiopredict.studies.crt import crt_spec

        if tasks is not None:
            raise typer.BadParameter("--tasks is for the cardiomyopathy study; the CRT study has one task.")
        modes = comma_list(inputs, allowed=CRT_INPUTS, option="--inputs") if inputs else CRT_INPUTS
        return crt_spec(inputs=modes)
    from cardiopredict.studies.cardiomyopathy import cardiomyopathy_spec

    input_list = comma_list(inputs, allowed=CARDIOMYOPATHY_INPUTS, option="--inputs") if inputs else None
    task_list = comma_list(tasks, allowed=CARDIOMYOPATHY_TASKS, option="--tasks") if tasks else None
    return cardiomyopathy_spec(
        tasks=task_list or CARDIOMYOPATHY_TASKS, inputs=input_list or CARDIOMYOPATHY_INPUTS
    )


@clean_errors
def tune(
    study: Annotated[str, typer.Argument(help="Study to tune: crt or cardiomyopathy.")],
    manifest: Annotated[Path, typer.Option(help="Cohort manifest (CSV/XLSX).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Directory to write the search and outer-fold results to.")],
    trials: Annotated[int, typer.Option(help="Configurations tried per outer fold and model.")] = 20,
    inner_folds: Annotated[int, typer.Option(help="Inner cross-validation folds on each outer split.")] = 3,
    inputs: Annotated[
        str | None,
        typer.Option(help="Comma list of the study's inputs (crt: pre,post,combined; cm: qrs,rr)."),
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Cardiomyopathy: comma list of tasks.")] = None,
    folds: Annotated[
        int, typer.Option(help="Outer cross-validation folds (by patient).")
    ] = TRAINING_DEFAULTS.n_folds,
    seed: Annotated[int, typer.Option(help="Seed for folds, sampler, weights.")] = TRAINING_DEFAULTS.seed,
    max_epochs: Annotated[
        int, typer.Option(help="Epochs of the 'full' choice (half of it is the other).")
    ] = TRAINING_DEFAULTS.max_epochs,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = TRAINING_DEFAULTS.device,
    quick: Annotated[bool, typer.Option(help="2 folds, few epochs: a smoke test, not a result.")] = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    cpus_per_training: CpusPerTrainingOption = 1,
    gpus_per_training: GpusPerTrainingOption = 1.0,
) -> None:
    """Search learning rate, dropout, widths, pooling and epochs/patience by nested cross-validation.

    The search sees only the inner folds of each outer training split; the outer folds score the chosen
    configuration (predictions.csv, metrics.json); chosen.json and search_history.csv say what was chosen.
    """
    from cardiopredict.studies.tune import tune_study

    if study not in TUNABLE_STUDIES:
        raise typer.BadParameter(f"STUDY {study!r}: choose from {', '.join(TUNABLE_STUDIES)}.")
    spec = _spec(study, inputs, tasks)
    profile = profile_for(quick=quick, folds=folds, seed=seed, max_epochs=max_epochs, device=device)
    typer.echo(
        f"nested search: {trials} trial(s) x {profile.training.n_folds} outer folds x {inner_folds} inner "
        f"folds ({profile.name} protocol)"
    )
    with study_executor(
        executor, ray_address, device=device, cpus_per_training=cpus_per_training,
        gpus_per_training=gpus_per_training,
    ) as chosen:  # fmt: skip
        metrics = tune_study(
            spec, manifest, out, profile=profile, n_trials=trials, inner_folds=inner_folds, executor=chosen,
            progress=True,
        )  # fmt: skip
    if spec.layout == "single":
        print_scores(metrics, [*metrics["models"], *metrics["baselines"]])
    else:
        for task, by_input in metrics["table3"].items():
            typer.echo(f"{task:>12}: " + ", ".join(f"{n} {b['auc_pooled']:.3f}" for n, b in by_input.items()))
    typer.echo(f"outer-fold scores of the chosen configurations: {Path(out) / 'predictions.csv'}")
    typer.echo(
        f"chosen per outer fold: {Path(out) / 'chosen.json'}; every trial: {Path(out) / 'search_history.csv'}"
    )
