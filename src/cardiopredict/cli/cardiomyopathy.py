"""`cardiopredict cardiomyopathy ...`: genetic cardiomyopathy vs myocarditis vs sarcoidosis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict.cli._common import (
    StudyOptions,
    clean_errors,
    comma_list,
    echo_protocol,
    with_study_options,
)
from cardiopredict.config import CARDIOMYOPATHY_INPUTS, CARDIOMYOPATHY_TASKS

app = typer.Typer(help="Genetic cardiomyopathy vs myocarditis vs sarcoidosis study.", no_args_is_help=True)


@app.command("run")
@clean_errors
@with_study_options
def run(
    manifest: Annotated[Path, typer.Option(help="Cohort manifest (CSV/XLSX).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Run directory to write.")],
    tasks: Annotated[str, typer.Option(help="Comma list of tasks.")] = ",".join(CARDIOMYOPATHY_TASKS),
    inputs: Annotated[str, typer.Option(help="Comma list of qrs, rr.")] = ",".join(CARDIOMYOPATHY_INPUTS),
    *,
    options: StudyOptions,
) -> None:
    """Run every requested task on every requested input, with the ECG-measurement baseline."""
    from cardiopredict.studies.cardiomyopathy import cardiomyopathy_spec

    task_list = comma_list(tasks, allowed=CARDIOMYOPATHY_TASKS, option="--tasks")
    input_list = comma_list(inputs, allowed=CARDIOMYOPATHY_INPUTS, option="--inputs")
    profile = options.profile()
    echo_protocol(profile)
    spec = cardiomyopathy_spec(tasks=task_list, inputs=input_list)
    metrics = options.run(spec, manifest, out, profile=profile)
    for task, by_input in metrics["table3"].items():
        parts = [f"{name} {block['auc_pooled']:.3f}" for name, block in by_input.items()]
        parts.append(f"clinical {metrics['baselines'][task]['auc_pooled']:.3f}")
        if task in metrics.get("oracle_ecg_auc", {}):
            parts.append(f"ECG oracle {metrics['oracle_ecg_auc'][task]:.3f}")
        if task in metrics.get("oracle_auc", {}):
            parts.append(f"oracle {metrics['oracle_auc'][task]:.3f}")
        typer.echo(f"{task:>12}: pooled AUC " + ", ".join(parts))
    for name, block in metrics.get("multiclass", {}).items():
        typer.echo(f"{'3class':>12}: {name} macro AUC {block['macro_auc']:.3f}")
    typer.echo(f"report: {Path(out) / 'report.html'}")
