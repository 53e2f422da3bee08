"""`cardiopredict demo`: the main job on the embedded default (synthetic cohorts, all studies, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out: Annotated[Path, typer.Option(help="Run directory to write.")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="Seed for cohorts and training.")] = 0,
) -> None:
    """Simulate the default synthetic cohorts, run every study, and write a report (SYNTHETIC data)."""
    typer.echo("demo: not wired yet")
