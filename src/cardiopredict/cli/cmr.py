"""`cardiopredict cmr ...`: LGE cardiac MRI: preprocess, plot."""

from __future__ import annotations

import typer

app = typer.Typer(help="LGE cardiac MRI: preprocess, plot.", no_args_is_help=True)
