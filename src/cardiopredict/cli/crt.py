"""`cardiopredict crt ...`: CRT-response study (paper section 2.1)."""

from __future__ import annotations

import typer

app = typer.Typer(help="CRT-response study (paper section 2.1).", no_args_is_help=True)
