"""`cardiopredict report RUN_DIR`: re-score a finished run from predictions.csv and re-render its report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardiopredict._io import atomic_write_json
from cardiopredict.cli._common import clean_errors
from cardiopredict.evaluation.run import evaluate_run
from cardiopredict.report import study_dirs, write_report


@clean_errors
def report(
    run_dir: Annotated[
        Path,
        typer.Argument(help="A study's run directory, or a folder of them (e.g. runs/demo).", exists=True),
    ],
    embed: Annotated[
        bool, typer.Option("--embed/--link", help="Embed the figures (one self-contained file) or link them.")
    ] = True,
) -> None:
    """Recompute metrics.json of every study in RUN_DIR from its predictions.csv and write report.html.

    Nothing is retrained: the numbers come from the run's out-of-fold predictions and the evaluation
    settings recorded in its config.json.
    """
    for study_dir in study_dirs(run_dir):
        atomic_write_json(study_dir / "metrics.json", evaluate_run(study_dir))
        typer.echo(f"metrics: {study_dir / 'metrics.json'}")
    typer.echo(f"report: {write_report(run_dir, embed_figures=embed)}")
