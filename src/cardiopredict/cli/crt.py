"""`cardiopredict crt ...`: CRT-response study (paper section 2.1)."""

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
from cardiopredict.config import CRT_INPUTS

app = typer.Typer(help="CRT-response study (paper section 2.1).", no_args_is_help=True)


@app.command("run")
@clean_errors
@with_study_options
def run(
    manifest: Annotated[Path, typer.Option(help="Cohort manifest (CSV/XLSX).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="Run directory to write.")],
    inputs: Annotated[str, typer.Option(help="Comma list of pre, post, combined.")] = ",".join(CRT_INPUTS),
    *,
    options: StudyOptions,
) -> None:
    """Run the CRT study: three input modes and the baselines on the same patient-level folds."""
    from cardiopredict.studies.crt import crt_spec

    modes = comma_list(inputs, allowed=CRT_INPUTS, option="--inputs")
    profile = options.profile()
    echo_protocol(profile)
    metrics = options.run(crt_spec(inputs=modes), manifest, out, profile=profile)
    print_scores(metrics, [*modes, *metrics["baselines"]])
    typer.echo(f"report: {Path(out) / 'report.html'}")
