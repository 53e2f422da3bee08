"""`cardiopredict cardiomyopathy ...`: Genetic cardiomyopathy vs myocarditis vs sarcoidosis study."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Genetic cardiomyopathy vs myocarditis vs sarcoidosis study.", no_args_is_help=True
)
