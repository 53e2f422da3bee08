"""`cardiopredict ecg ...`: 12-lead ECG files: info, delineate, measure, plot."""

from __future__ import annotations

import typer

app = typer.Typer(help="12-lead ECG files: info, delineate, measure, plot.", no_args_is_help=True)
