"""`cardiopredict simulate ...`: Write synthetic cohorts with their oracle probabilities."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Write synthetic cohorts with their oracle probabilities.", no_args_is_help=True
)
